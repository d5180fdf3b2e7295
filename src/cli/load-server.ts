/**
 * The server's modules, loaded only when `lapis server` runs so that other commands start without
 * them. The client bundle cannot import modules itself (see lapis.ts): the build swaps this module
 * there for one that asks lapis.ts to load them (scripts/bundle-cli.mjs).
 */
export const loadServer = () => Promise.all([import('../server/app.js'), import('../store/db.js')]);
