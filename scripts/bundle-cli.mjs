// Bundles the `lapis` client commands from their sources into dist/cli/client.cjs, the file
// dist/cli/lapis.js runs with V8's code cache (see src/cli/lapis.ts for why), then runs the command
// once so that the cache exists before the first user does. Node's built-in modules stay `require`s.
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';

const BUNDLE = 'dist/cli/client.cjs';

await build({
  entryPoints: ['src/cli/program.ts'],
  outfile: BUNDLE,
  tsconfig: 'tsconfig.build.json',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // lapis.ts runs the bundle inside a function that receives `__lapisHost` (BundleHost).
  define: { 'import.meta.url': '__lapisHost.moduleUrl' },
  plugins: [
    {
      // A script run by `vm` cannot import modules, so the server's loader asks lapis.ts to. The
      // server's own modules thus stay out of the bundle (`lapis server` runs ./main.js anyway).
      name: 'server-from-host',
      setup(b) {
        b.onResolve({ filter: /^\.\/load-server\.js$/ }, () => ({ path: 'load-server', namespace: 'lapis-host' }));
        b.onLoad({ filter: /.*/, namespace: 'lapis-host' }, () => ({ contents: 'export const loadServer = () => __lapisHost.loadServer();', loader: 'js' }));
      },
    },
  ],
  logLevel: 'warning',
  // Other import.meta fields would be undefined in CommonJS: an error, not a warning.
  logOverride: { 'empty-import-meta': 'error' },
});
// An import() left in the bundle would fail only when it runs: refuse the build instead.
const dynamic = /\bimport\s*\(/.exec(readFileSync(BUNDLE, 'utf8'));
if (dynamic) throw new Error(`${BUNDLE} holds an import() (at offset ${dynamic.index}): code run through vm cannot import; load the module from src/cli/lapis.ts instead, as load-server.ts does.`);
// The entry tsc wrote is what npm links as the `lapis` bin: runnable as is.
chmodSync('dist/cli/lapis.js', 0o755);
// The cache, written by this first run as it exits (one from an earlier bundle no longer matches).
execFileSync(process.execPath, ['dist/cli/lapis.js', '--help'], { stdio: ['ignore', 'ignore', 'inherit'] });
