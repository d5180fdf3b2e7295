import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Workspace, WorkspaceService } from './service.js';

const view = (w: Workspace) => ({ name: w.name, description: w.description, created_at: w.createdAt });

/** Native workspace API. Creating workspaces becomes an admin action once access control lands. */
export function workspaceRoutes(app: FastifyInstance, workspaces: WorkspaceService): void {
  app.get('/api/v1/workspaces', { config: { action: 'workspaces/read' }, schema: { summary: 'List workspaces', tags: ['workspaces'] } }, async () => ({
    workspaces: (await workspaces.list()).map(view),
  }));
  app.get(
    '/api/v1/workspaces/:name',
    { config: { action: 'workspaces/read' }, schema: { summary: 'Get a workspace', tags: ['workspaces'], params: Type.Object({ name: Type.String() }) } },
    async (req) => view(await workspaces.get((req.params as { name: string }).name)),
  );
  app.post(
    '/api/v1/workspaces',
    {
      config: { action: 'workspaces/create' },
      schema: {
        summary: 'Create a workspace',
        tags: ['workspaces'],
        body: Type.Object({ name: Type.String({ description: "2–63 lowercase letters, digits and dashes, e.g. 'dev'" }), description: Type.Optional(Type.String()) }),
      },
    },
    async (req, reply) => {
      const body = req.body as { name: string; description?: string };
      return reply.status(201).send(view(await workspaces.create(body.name, body.description ?? '')));
    },
  );
}
