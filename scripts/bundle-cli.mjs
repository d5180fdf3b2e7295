// Bundles the `lapis` command (dist/cli/lapis.js, compiled by tsc first) into one file in place:
// see src/cli/lapis.ts for why. Node's built-in modules stay imports, and so do the server's.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/cli/lapis.js'],
  outfile: 'dist/cli/lapis.js',
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // CommonJS dependencies (cli-table3) call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as lapisCreateRequire } from 'node:module'; const require = lapisCreateRequire(import.meta.url);" },
  plugins: [
    {
      // The server's modules stay out: `lapis server` runs ./main.js, and cli/server.ts loads the
      // server only inside its action (which the bundle never runs).
      name: 'unbundled-server',
      setup(b) {
        b.onResolve({ filter: /^\.\/main\.js$|^\.\.\/(server|store)\// }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined));
      },
    },
  ],
  logLevel: 'warning',
});
