import type { FastifyInstance } from 'fastify';
import { invalid } from '../../core/errors.js';
import type { Tracking } from '../index.js';
import { maxResults, optionalString } from '../validation.js';
import { rpc, type Input } from './mlflow-plugin.js';

const param = (req: { params: unknown }, name: string): string => (req.params as Record<string, string>)[name] ?? '';

/** MLflow 3 logged models: create → upload artifacts → finalize; tags, params, search. */
export function loggedModelRoutes(app: FastifyInstance, t: Tracking): void {
  rpc(app, 'POST', '/logged-models', 'models/write', async (ws, i) => ({
    model: await t.loggedModels.create(ws, {
      experimentId: i.experiment_id,
      name: i.name,
      modelType: i.model_type,
      sourceRunId: i.source_run_id,
      params: i.params,
      tags: i.tags,
    }),
  }));
  rpc(app, 'POST', '/logged-models/search', 'models/read', async (ws, i) => {
    const ids = Array.isArray(i.experiment_ids) ? i.experiment_ids : i.experiment_ids === undefined ? [] : [i.experiment_ids];
    const experimentIds = await Promise.all(ids.map((id) => t.experiments.requireId(ws, id)));
    const orderBy = i.order_by === undefined ? [] : i.order_by;
    if (!Array.isArray(orderBy)) throw invalid(`Parameter 'order_by' must be a list of {field_name, ascending}.`);
    const res = await t.loggedModels.search(ws, {
      experimentIds,
      filter: optionalString('filter', i.filter),
      orderBy: orderBy as Input[],
      maxResults: maxResults('max_results', i.max_results, 50, 1000),
      pageToken: optionalString('page_token', i.page_token),
    });
    return res.nextPageToken ? { models: res.models, next_page_token: res.nextPageToken } : { models: res.models };
  });
  rpc(app, 'GET', '/logged-models/:model_id', 'models/read', async (ws, _i, req) => ({ model: await t.loggedModels.get(ws, param(req, 'model_id')) }));
  rpc(app, 'PATCH', '/logged-models/:model_id', 'models/write', async (ws, i, req) => ({ model: await t.loggedModels.finalize(ws, param(req, 'model_id'), i.status) }));
  rpc(app, 'DELETE', '/logged-models/:model_id', 'models/delete', async (ws, _i, req) => {
    await t.loggedModels.delete(ws, param(req, 'model_id'));
  });
  rpc(app, 'PATCH', '/logged-models/:model_id/tags', 'models/write', async (ws, i, req) => {
    await t.loggedModels.setTags(ws, param(req, 'model_id'), i.tags);
  });
  rpc(app, 'DELETE', '/logged-models/:model_id/tags/:tag_key', 'models/write', async (ws, _i, req) => {
    await t.loggedModels.deleteTag(ws, param(req, 'model_id'), param(req, 'tag_key'));
  });
  rpc(app, 'POST', '/logged-models/:model_id/params', 'models/write', async (ws, i, req) => {
    await t.loggedModels.logParams(ws, param(req, 'model_id'), i.params);
  });
  rpc(app, 'GET', '/logged-models/:model_id/artifacts/directories', 'models/read', async (ws, i, req) => {
    const root = await t.loggedModels.artifactLocation(ws, param(req, 'model_id'));
    const files = await t.artifacts.listUnder(ws, root, optionalString('artifact_directory_path', i.artifact_directory_path));
    return { root_uri: root, files };
  });
}
