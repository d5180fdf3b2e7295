import type { Command } from 'commander';
import { setFlagsFromString } from 'node:v8';
import { loadConfig } from '../config/config.js';
import { loadServer } from './load-server.js';

/** `lapis server`: the API, tracking and artifact proxy in one process, on embedded defaults. */
export function serverCommand(program: Command): void {
  program
    .command('server')
    .description('Start the Lapis server (embedded SQLite and local artifacts by default)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('-p, --port <port>', 'port to listen on, 0 for any free port (default 5050)')
    .option('--data-dir <dir>', 'folder for the embedded database and artifacts (default ~/.lapis)')
    .option('--backend-store-uri <uri>', 'metadata database: sqlite:///path or postgresql://user:pass@host/db')
    .option('--artifacts-destination <uri>', 'artifact store: file:///path or s3://bucket/prefix')
    .option('--auth <mode>', "authentication: off (single user, loopback only) or on (tokens, passwords, roles)")
    .option('--rate-limit <n>', 'API requests a minute per principal before 429 (0 = unlimited)')
    .option('--log-level <level>', 'log level: fatal, error, warn, info, debug, trace, silent')
    .option('--python <path>', 'Python for job task runners and as the base of job environments (default python3)')
    .option('--local-slots <n>', "slots of the built-in 'local' compute target (default: CPU cores)")
    .action(async (opts: {
      host?: string;
      port?: string;
      dataDir?: string;
      backendStoreUri?: string;
      artifactsDestination?: string;
      logLevel?: string;
      auth?: string;
      rateLimit?: string;
      python?: string;
      localSlots?: string;
    }) => {
      const config = loadConfig({
        host: opts.host,
        port: opts.port,
        dataDir: opts.dataDir,
        backendStoreUri: opts.backendStoreUri,
        artifactsDestination: opts.artifactsDestination,
        logLevel: opts.logLevel,
        auth: opts.auth,
        rateLimitPerMinute: opts.rateLimit,
        python: opts.python,
        localSlots: opts.localSlots,
      });
      // Requests to Python deployments live for milliseconds, long enough to survive young
      // collections: V8 then pretenures the scoring path's allocation sites, and every later request
      // (an ONNX one lives 0.1 ms) goes straight to the old generation. Measured under ONNX load after
      // Python load (bench:serving, --trace-gc): young collections of 3-6 ms each promoting ~1.5 MB
      // and a full collection every ~4 s, against 0.5-1 ms and a steady heap without pretenuring.
      // Set before the server's code first runs; V8 reads it at each collection (Node warns that
      // flags changed at run time may not all take effect: this one was checked with --trace-gc).
      setFlagsFromString('--no-allocation-site-pretenuring');
      const [{ createServer }, { redact }] = await loadServer();
      const server = await createServer(config);
      const address = await server.app.listen({ host: config.host, port: config.port });
      const jobs = await server.startBackground(address);
      process.stdout.write(
        `Lapis server listening at ${address}\n` +
          `  metadata:  ${redact(config.backendStoreUri)}\n` +
          `  artifacts: ${config.artifactsDestination}\n` +
          `  auth:      ${config.auth === 'on' ? 'on (tokens, passwords, roles)' : 'off (single user; every local caller is the admin)'}\n` +
          `  jobs:      ${jobs}\n` +
          `  MLflow:    export MLFLOW_TRACKING_URI=${address}\n`,
      );
      if (server.bootstrapToken) {
        process.stdout.write(
          `\nFirst start with authentication on: created the server admin 'admin'.\n` +
            `Its token is shown this once — store it now (e.g. 'lapis login --token <token>'):\n\n  ${server.bootstrapToken}\n\n`,
        );
      }
      let closing = false;
      const shutdown = (signal: string): void => {
        if (closing) return;
        closing = true;
        server.app.log.info({ signal }, 'shutting down');
        server.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`Error while shutting down: ${String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
    });
}
