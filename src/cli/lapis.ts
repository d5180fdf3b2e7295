#!/usr/bin/env node
/**
 * The `lapis` command. The build bundles it with everything the client commands import into one
 * file (scripts/bundle-cli.mjs), which starts in half the time of loading ~300 modules one by one.
 * `lapis server` runs the unbundled program instead (left out of the bundle): the server then has a
 * single copy of every module, and finds its files (Python hosts, the studio) beside them.
 */
if (process.argv[2] === 'server') await import('./main.js');
else await import('./program.js');
