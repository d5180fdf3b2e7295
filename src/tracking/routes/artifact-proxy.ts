import { basename } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LapisError } from '../../core/errors.js';
import type { Tracking } from '../index.js';
import { contentTypeOf } from '../artifacts.js';

const PREFIXES = ['/api/2.0/mlflow-artifacts', '/ajax-api/2.0/mlflow-artifacts'] as const;

/** The raw (still percent-encoded) path after `/artifacts/`, decoded once, so `%2e%2e` is seen as `..`. */
function artifactPath(req: FastifyRequest): string {
  const wildcard = (req.params as Record<string, string>)['*'] ?? '';
  if (wildcard.startsWith('/')) throw new LapisError('INVALID_ARGUMENT', `Invalid artifact path '${wildcard}': absolute paths are not allowed; artifact paths are relative, e.g. 1/<run_id>/artifacts/model/MLmodel.`);
  return wildcard;
}

/**
 * MLflow's artifact proxy (`mlflow-artifacts:` URIs): streamed PUT and GET, list, delete.
 * Bodies are never buffered: a 1 GB upload flows from the socket to the blob store.
 */
export async function artifactProxyRoutes(app: FastifyInstance, t: Tracking): Promise<void> {
  // Uploads are raw bytes of any type (a .json artifact arrives as application/json).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  for (const prefix of PREFIXES) {
    app.route({
      method: 'PUT',
      url: `${prefix}/artifacts/*`,
      config: { action: 'artifacts/write' },
      bodyLimit: Number.MAX_SAFE_INTEGER,
      handler: async (req) => {
        const key = t.artifacts.keyOf(req.workspace, artifactPath(req));
        const body = req.body as NodeJS.ReadableStream | undefined;
        await t.artifacts.blobs.put(key, body ?? Buffer.alloc(0));
        return {};
      },
    });
    app.route({
      method: 'GET',
      url: `${prefix}/artifacts/*`,
      config: { action: 'artifacts/read' },
      handler: async (req, reply) => {
        const path = artifactPath(req);
        const key = t.artifacts.keyOf(req.workspace, path);
        const stat = await t.artifacts.blobs.stat(key);
        if (!stat) throw new LapisError('NOT_FOUND', `Artifact '${path}' does not exist.`);
        if (stat.isDir) throw new LapisError('INVALID_ARGUMENT', `Artifact '${path}' is a directory: list it with GET ${prefix}/artifacts?path=${path}.`);
        const name = basename(path);
        reply
          .header('Content-Type', contentTypeOf(path))
          .header('Content-Length', String(stat.size))
          .header('Content-Disposition', `attachment; filename="${name.replace(/["\\\r\n]/g, '_')}"`)
          .header('X-Content-Type-Options', 'nosniff');
        return reply.send(await t.artifacts.blobs.get(key));
      },
    });
    app.route({
      method: 'DELETE',
      url: `${prefix}/artifacts/*`,
      config: { action: 'artifacts/delete' },
      handler: async (req) => {
        await t.artifacts.blobs.delete(t.artifacts.keyOf(req.workspace, artifactPath(req)));
        return {};
      },
    });
    app.route({
      method: 'GET',
      url: `${prefix}/artifacts`,
      config: { action: 'artifacts/read' },
      handler: async (req) => {
        const path = String((req.query as Record<string, unknown>).path ?? '');
        const entries = await t.artifacts.blobs.list(t.artifacts.keyOf(req.workspace, path));
        return { files: entries.map((e) => (e.isDir ? { path: e.path, is_dir: true } : { path: e.path, is_dir: false, file_size: e.size ?? 0 })) };
      },
    });
    for (const op of ['create', 'complete', 'abort']) {
      app.route({
        method: 'POST',
        url: `${prefix}/mpu/${op}/*`,
        config: { action: 'artifacts/write' },
        handler: async () => {
          // The client falls back to a single streamed PUT on exactly this answer.
          throw new LapisError('NOT_IMPLEMENTED', 'Multipart upload is not supported by this server; uploads are streamed with a single PUT.');
        },
      });
    }
  }
}
