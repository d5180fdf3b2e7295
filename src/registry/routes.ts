import type { FastifyInstance } from 'fastify';
import { rpc } from '../tracking/routes/mlflow-plugin.js';
import { LIMITS, maxResults, optionalBool, optionalString } from '../tracking/validation.js';
import type { ModelRegistry } from './model-registry.js';

const strings = (value: unknown): string[] => (value === undefined || value === null ? [] : (Array.isArray(value) ? value : [value]).map(String));
const page = <K extends string, T>(key: K, items: T[], token: string | undefined) => (token ? { [key]: items, next_page_token: token } : { [key]: items }) as Record<K, T[]>;

/** MLflow's model registry RPCs. */
export function registryRoutes(app: FastifyInstance, r: ModelRegistry): void {
  const user = (req: { principal?: { name: string } | undefined }): string | undefined => (req.principal && req.principal.name !== 'local' ? req.principal.name : undefined);

  rpc(app, 'POST', '/registered-models/create', 'models/write', async (ws, i, req) => ({
    registered_model: await r.createModel(ws, { name: i.name, tags: i.tags, description: i.description, userId: user(req) }),
  }));
  rpc(app, 'GET', '/registered-models/get', 'models/read', async (ws, i) => ({ registered_model: await r.getModel(ws, i.name) }));
  rpc(app, 'POST', '/registered-models/rename', 'models/write', async (ws, i) => ({ registered_model: await r.renameModel(ws, i.name, i.new_name) }));
  rpc(app, 'PATCH', '/registered-models/update', 'models/write', async (ws, i) => ({ registered_model: await r.updateModel(ws, i.name, i.description) }));
  rpc(app, 'DELETE', '/registered-models/delete', 'models/delete', async (ws, i) => {
    await r.deleteModel(ws, i.name);
  });
  rpc(app, 'GET', '/registered-models/search', 'models/read', async (ws, i) => {
    const res = await r.searchModels(ws, {
      filter: optionalString('filter', i.filter),
      orderBy: strings(i.order_by),
      maxResults: maxResults('max_results', i.max_results, 100, 1000),
      pageToken: optionalString('page_token', i.page_token),
    });
    return page('registered_models', res.models, res.nextPageToken);
  });
  rpc(app, ['GET', 'POST'], '/registered-models/get-latest-versions', 'models/read', async (ws, i) => ({
    model_versions: await r.latestVersions(ws, i.name, strings(i.stages)),
  }));
  rpc(app, 'POST', '/registered-models/set-tag', 'models/write', async (ws, i) => {
    await r.setModelTag(ws, i.name, i.key, i.value);
  });
  rpc(app, 'DELETE', '/registered-models/delete-tag', 'models/write', async (ws, i) => {
    await r.deleteModelTag(ws, i.name, i.key);
  });
  rpc(app, 'POST', '/registered-models/alias', 'models/write', async (ws, i) => {
    await r.setAlias(ws, i.name, i.alias, i.version);
  });
  rpc(app, 'DELETE', '/registered-models/alias', 'models/write', async (ws, i) => {
    await r.deleteAlias(ws, i.name, i.alias);
  });
  rpc(app, 'GET', '/registered-models/alias', 'models/read', async (ws, i) => ({ model_version: await r.versionByAlias(ws, i.name, i.alias) }));

  rpc(app, 'POST', '/model-versions/create', 'models/write', async (ws, i, req) => ({
    model_version: await r.createVersion(ws, {
      name: i.name,
      source: i.source,
      runId: i.run_id,
      tags: i.tags,
      runLink: i.run_link,
      description: i.description,
      modelId: i.model_id,
      userId: user(req),
    }),
  }));
  rpc(app, 'GET', '/model-versions/get', 'models/read', async (ws, i) => ({ model_version: await r.getVersion(ws, i.name, i.version) }));
  rpc(app, 'PATCH', '/model-versions/update', 'models/write', async (ws, i) => ({ model_version: await r.updateVersion(ws, i.name, i.version, i.description) }));
  rpc(app, 'DELETE', '/model-versions/delete', 'models/delete', async (ws, i) => {
    await r.deleteVersion(ws, i.name, i.version);
  });
  rpc(app, 'POST', '/model-versions/transition-stage', 'models/write', async (ws, i) => ({
    model_version: await r.transitionStage(ws, i.name, i.version, i.stage, optionalBool('archive_existing_versions', i.archive_existing_versions) ?? false),
  }));
  rpc(app, 'GET', '/model-versions/search', 'models/read', async (ws, i) => {
    const res = await r.searchVersions(ws, {
      filter: optionalString('filter', i.filter),
      orderBy: strings(i.order_by),
      maxResults: maxResults('max_results', i.max_results, 10_000, LIMITS.searchRunsMaxResults * 4),
      pageToken: optionalString('page_token', i.page_token),
    });
    return page('model_versions', res.versions, res.nextPageToken);
  });
  rpc(app, 'GET', '/model-versions/get-download-uri', 'models/read', async (ws, i) => ({ artifact_uri: await r.downloadUri(ws, i.name, i.version) }));
  rpc(app, 'POST', '/model-versions/set-tag', 'models/write', async (ws, i) => {
    await r.setVersionTag(ws, i.name, i.version, i.key, i.value);
  });
  rpc(app, 'DELETE', '/model-versions/delete-tag', 'models/write', async (ws, i) => {
    await r.deleteVersionTag(ws, i.name, i.version, i.key);
  });
}
