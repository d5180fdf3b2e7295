import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../auth/service.js';
import { LapisError } from '../core/errors.js';
import { DEFAULT_WORKSPACE, type Workspace, type WorkspaceService } from './service.js';

const view = (w: Workspace) => ({ name: w.name, description: w.description, created_at: w.createdAt });

export interface WorkspaceRouteDeps {
  workspaces: WorkspaceService;
  /** The workspaces the caller may see (all of them for admins). */
  visible(principal: Principal | undefined): Promise<(name: string) => boolean>;
  /** Counts what the workspace holds; used to refuse deleting a non-empty workspace. */
  resources(name: string): Promise<Record<string, number>>;
  /** Removes everything the workspace holds (rows, artifacts, role assignments). */
  purge(name: string): Promise<void>;
}

/** Native workspace API: list what the caller may see, create (admins), show, delete (Owners, Contributors). */
export function workspaceRoutes(app: FastifyInstance, deps: WorkspaceRouteDeps): void {
  const tags = ['workspaces'];
  app.get('/api/v1/workspaces', { config: { action: 'self/read' }, schema: { summary: 'List the workspaces the caller has a role in', tags } }, async (req) => {
    const visible = await deps.visible(req.principal);
    return { workspaces: (await deps.workspaces.list()).filter((w) => visible(w.name)).map(view) };
  });
  app.get(
    '/api/v1/workspaces/:name',
    { config: { action: 'workspaces/read', workspaceParam: 'name' }, schema: { summary: 'Get a workspace', tags, params: Type.Object({ name: Type.String() }) } },
    async (req) => ({ ...view(req.workspace), resources: await deps.resources(req.workspace.name) }),
  );
  app.post(
    '/api/v1/workspaces',
    {
      config: { action: 'workspaces/create' },
      schema: {
        summary: 'Create a workspace',
        tags,
        body: Type.Object({ name: Type.String({ description: "2–63 lowercase letters, digits and dashes, e.g. 'dev'" }), description: Type.Optional(Type.String()) }),
      },
    },
    async (req, reply) => {
      const body = req.body as { name: string; description?: string };
      return reply.status(201).send(view(await deps.workspaces.create(body.name, body.description ?? '')));
    },
  );
  app.delete(
    '/api/v1/workspaces/:name',
    {
      config: { action: 'workspaces/delete', workspaceParam: 'name' },
      schema: { summary: 'Delete a workspace (refused while it holds resources, unless force=true)', tags, params: Type.Object({ name: Type.String() }), querystring: Type.Object({ force: Type.Optional(Type.Boolean()) }) },
    },
    async (req) => {
      const name = req.workspace.name;
      if (name === DEFAULT_WORKSPACE) throw new LapisError('INVALID_ARGUMENT', `The '${DEFAULT_WORKSPACE}' workspace cannot be deleted.`);
      const counts = await deps.resources(name);
      const held = Object.entries(counts).filter(([, n]) => n > 0);
      if (held.length > 0 && (req.query as { force?: boolean }).force !== true) {
        throw new LapisError(
          'CONFLICT',
          `Workspace '${name}' still holds ${held.map(([k, n]) => `${n} ${k.replace('_', ' ')}`).join(', ')}. Delete them first, or pass --force to delete the workspace with everything in it.`,
          counts,
        );
      }
      await deps.purge(name);
      await deps.workspaces.remove(name);
      return { deleted: name, removed: counts };
    },
  );
}
