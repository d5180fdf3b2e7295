import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { contentTypeOf } from '../tracking/artifacts.js';
import type { DatastoreService } from './service.js';

const tags = ['datastores'];

/** Datastores and the files under their paths (task runners fetch datastore inputs here). */
export function datastoreRoutes(app: FastifyInstance, datastores: DatastoreService): void {
  app.get('/api/v1/datastores', { config: { action: 'data/read' }, schema: { summary: 'List datastores', tags } }, async () => ({ datastores: datastores.list() }));
  app.get(
    '/api/v1/datastores/:name/files',
    { config: { action: 'data/read' }, schema: { summary: 'List the files under a datastore path', tags, params: Type.Object({ name: Type.String() }), querystring: Type.Object({ path: Type.Optional(Type.String()) }) } },
    async (req) => {
      const { name } = req.params as { name: string };
      const at = datastores.parse(`azureml://datastores/${name}/paths/${(req.query as { path?: string }).path ?? ''}`);
      return datastores.files(req.workspace.name, at);
    },
  );
  app.get('/api/v1/datastores/:name/files/*', { config: { action: 'data/read' }, schema: { summary: 'Download one file of a datastore', tags } }, async (req, reply) => {
    const p = req.params as { name: string; '*': string };
    const file = await datastores.open(req.workspace.name, datastores.parse(`azureml://datastores/${p.name}/paths/${p['*']}`));
    return reply.header('Content-Type', contentTypeOf(p['*'])).header('Content-Length', file.size).send(file.stream);
  });
}
