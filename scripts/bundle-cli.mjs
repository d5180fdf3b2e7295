// Bundles the `lapis` command from its sources into dist/cli/lapis.js, over what tsc wrote there:
// see src/cli/lapis.ts for why. Node's built-in modules stay imports, and so do the server's.
import { chmodSync } from 'node:fs';
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/lapis.ts'],
  outfile: 'dist/cli/lapis.js',
  allowOverwrite: true,
  tsconfig: 'tsconfig.build.json',
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
// Runnable as is, like the file tsc wrote (npm links it as the `lapis` bin).
chmodSync('dist/cli/lapis.js', 0o755);
