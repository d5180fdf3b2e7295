import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { LapisError } from '../../core/errors.js';
import type { Workspace } from '../../workspaces/service.js';

export type Input = Record<string, unknown>;
export type MlflowHandler = (ws: Workspace, input: Input, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** MLflow mounts each RPC under both prefixes; the web UI uses /ajax-api. */
export const MLFLOW_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;

/**
 * Declares one MLflow RPC: GET fields come from the query string, other methods from the JSON
 * body (plus the query, which some clients use for DELETE). A 200 always carries a JSON object.
 */
export function rpc(app: FastifyInstance, method: HTTPMethods | HTTPMethods[], path: string, action: string, handler: MlflowHandler, prefixes: readonly string[] = MLFLOW_PREFIXES): void {
  for (const prefix of prefixes) {
    app.route({
      method,
      url: `${prefix}${path}`,
      config: { action },
      handler: async (req, reply) => {
        const body = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Input) : {};
        if (req.body !== undefined && req.body !== null && (typeof req.body !== 'object' || Array.isArray(req.body))) {
          throw new LapisError('BAD_REQUEST', 'The request body must be a JSON object.');
        }
        const input: Input = { ...(req.query as Input), ...body };
        const result = await handler(req.workspace, input, req, reply);
        return result ?? {};
      },
    });
  }
}

/** MLflow's error body: `{error_code, message}` with its status table; never a 5xx for bad input. */
export function mlflowErrorBody(err: LapisError): { error_code: string; message: string } {
  return { error_code: err.mlflowCode, message: err.message };
}
