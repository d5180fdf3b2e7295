import type { Workspace } from '../workspaces/service.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Named by the URL prefix /workspaces/<name>, the X-MLFLOW-WORKSPACE header, or `default`. */
    workspaceName: string;
    /** Resolved before every route handler; a missing workspace is a 404 before any work. */
    workspace: Workspace;
  }
  interface FastifyContextConfig {
    /** The permission a route needs, declared on every route (checked by the auth room). */
    action?: string;
  }
}

export {};
