import type { FastifyInstance } from 'fastify';
import { invalid } from '../../core/errors.js';
import type { Tracking } from '../index.js';
import { parseViewType } from '../experiments.js';
import { parseMetric, parseStatus } from '../runs.js';
import { keyValues, LIMITS, maxResults, optionalInt, optionalString, requireString } from '../validation.js';
import { rpc, type Input } from './mlflow-plugin.js';

const list = (value: unknown): unknown[] => (value === undefined || value === null ? [] : Array.isArray(value) ? value : [value]);
const strings = (name: string, value: unknown): string[] =>
  list(value).map((v) => {
    if (typeof v !== 'string' && typeof v !== 'number') throw invalid(`Parameter '${name}' must be a list of strings.`);
    return String(v);
  });

/** Experiments, runs, metrics and run artifact listings: the MLflow tracking RPCs. */
export function trackingRoutes(app: FastifyInstance, t: Tracking): void {
  // Experiments
  rpc(app, 'POST', '/experiments/create', 'experiments/write', async (ws, i) => ({
    experiment_id: await t.experiments.create(ws, i.name, i.artifact_location, keyValues('Experiment tag', i.tags)),
  }));
  rpc(app, 'GET', '/experiments/get', 'experiments/read', async (ws, i) => ({ experiment: await t.experiments.get(ws, i.experiment_id) }));
  rpc(app, 'GET', '/experiments/get-by-name', 'experiments/read', async (ws, i) => ({ experiment: await t.experiments.getByName(ws, i.experiment_name) }));
  rpc(app, ['GET', 'POST'], '/experiments/search', 'experiments/read', async (ws, i) => {
    const res = await t.experiments.search(ws, {
      filter: optionalString('filter', i.filter),
      orderBy: strings('order_by', i.order_by),
      viewType: parseViewType('view_type', i.view_type),
      maxResults: maxResults('max_results', i.max_results, 1000, LIMITS.searchExperimentsMaxResults),
      pageToken: optionalString('page_token', i.page_token),
    });
    return res.nextPageToken ? { experiments: res.experiments, next_page_token: res.nextPageToken } : { experiments: res.experiments };
  });
  rpc(app, 'POST', '/experiments/update', 'experiments/write', async (ws, i) => {
    await t.experiments.rename(ws, i.experiment_id, i.new_name);
  });
  rpc(app, 'POST', '/experiments/delete', 'experiments/delete', async (ws, i) => {
    await t.experiments.setLifecycle(ws, i.experiment_id, 'deleted');
  });
  rpc(app, 'POST', '/experiments/restore', 'experiments/write', async (ws, i) => {
    await t.experiments.setLifecycle(ws, i.experiment_id, 'active');
  });
  rpc(app, 'POST', '/experiments/set-experiment-tag', 'experiments/write', async (ws, i) => {
    await t.experiments.setTag(ws, i.experiment_id, i.key, i.value);
  });
  rpc(app, 'POST', '/experiments/delete-experiment-tag', 'experiments/write', async (ws, i) => {
    await t.experiments.deleteTag(ws, i.experiment_id, i.key);
  });

  // Runs
  const runId = (i: Input): unknown => i.run_id ?? i.run_uuid;
  rpc(app, 'POST', '/runs/create', 'runs/write', async (ws, i) => ({
    run: await t.runs.create(ws, {
      experimentId: i.experiment_id,
      userId: optionalString('user_id', i.user_id),
      runName: optionalString('run_name', i.run_name),
      startTime: optionalInt('start_time', i.start_time),
      tags: keyValues('Tag', i.tags),
    }),
  }));
  rpc(app, 'GET', '/runs/get', 'runs/read', async (ws, i) => ({ run: await t.runs.get(ws, runId(i)) }));
  rpc(app, 'POST', '/runs/update', 'runs/write', async (ws, i) => ({
    run_info: await t.runs.update(ws, runId(i), {
      status: parseStatus(i.status),
      endTime: optionalInt('end_time', i.end_time),
      runName: optionalString('run_name', i.run_name),
    }),
  }));
  rpc(app, 'POST', '/runs/delete', 'runs/delete', async (ws, i) => {
    await t.runs.setLifecycle(ws, runId(i), 'deleted');
  });
  rpc(app, 'POST', '/runs/restore', 'runs/write', async (ws, i) => {
    await t.runs.setLifecycle(ws, runId(i), 'active');
  });
  rpc(app, 'POST', '/runs/search', 'runs/read', async (ws, i) => {
    const experimentIds = await Promise.all(strings('experiment_ids', i.experiment_ids).map((id) => t.experiments.requireId(ws, id)));
    const res = await t.searchRuns(ws, {
      experimentIds,
      filter: optionalString('filter', i.filter),
      orderBy: strings('order_by', i.order_by),
      viewType: parseViewType('run_view_type', i.run_view_type),
      maxResults: maxResults('max_results', i.max_results, 1000, LIMITS.searchRunsMaxResults),
      pageToken: optionalString('page_token', i.page_token),
    });
    return res.nextPageToken ? { runs: res.runs, next_page_token: res.nextPageToken } : { runs: res.runs };
  });
  rpc(app, 'POST', '/runs/log-metric', 'runs/write', async (ws, i) => {
    const m = parseMetric(i);
    await t.runs.logBatch(ws, runId(i), [{ ...i, key: m.key }], [], []);
  });
  rpc(app, 'POST', '/runs/log-parameter', 'runs/write', async (ws, i) => {
    await t.runs.logBatch(ws, runId(i), [], [{ key: i.key, value: i.value ?? '' }], []);
  });
  rpc(app, 'POST', '/runs/set-tag', 'runs/write', async (ws, i) => {
    await t.runs.setTag(ws, runId(i), i.key, i.value);
  });
  rpc(app, 'POST', '/runs/delete-tag', 'runs/write', async (ws, i) => {
    await t.runs.deleteTag(ws, runId(i), i.key);
  });
  rpc(app, 'POST', '/runs/log-batch', 'runs/write', async (ws, i) => {
    await t.runs.logBatch(ws, runId(i), i.metrics, i.params, i.tags);
  });
  rpc(app, 'POST', '/runs/log-model', 'runs/write', async (ws, i) => {
    await t.runs.logModel(ws, runId(i), i.model_json);
  });
  rpc(app, 'POST', '/runs/log-inputs', 'runs/write', async (ws, i) => {
    await t.runs.logInputs(ws, runId(i), i.datasets, i.models);
  });
  rpc(app, 'POST', '/runs/outputs', 'runs/write', async (ws, i) => {
    await t.runs.logOutputs(ws, runId(i), i.models);
  });

  // Metric histories
  rpc(app, 'GET', '/metrics/get-history', 'runs/read', async (ws, i, _req, reply) => {
    if (i.max_results === undefined && i.page_token === undefined) {
      return reply.type('application/json; charset=utf-8').send(await t.metrics.historyJson(ws, runId(i), i.metric_key));
    }
    const max = i.max_results === undefined ? undefined : maxResults('max_results', i.max_results, 25_000, 1_000_000);
    const res = await t.metrics.history(ws, runId(i), i.metric_key, max, optionalString('page_token', i.page_token));
    return res.nextPageToken ? { metrics: res.metrics, next_page_token: res.nextPageToken } : { metrics: res.metrics };
  });
  rpc(app, 'GET', '/metrics/get-history-bulk-interval', 'runs/read', async (ws, i) => ({
    metrics: await t.metrics.historyBulkInterval(
      ws,
      strings('run_ids', i.run_ids),
      i.metric_key,
      maxResults('max_results', i.max_results, LIMITS.historyBulkMaxResults, LIMITS.historyBulkMaxResults),
      optionalInt('start_step', i.start_step),
      optionalInt('end_step', i.end_step),
    ),
  }));
  rpc(
    app,
    'GET',
    '/metrics/get-history-bulk',
    'runs/read',
    async (ws, i) => {
      const ids = strings('run_id', i.run_id);
      if (ids.length === 0 || ids.length > 100) throw invalid(`GetMetricHistoryBulk needs between 1 and 100 run_id values; got ${ids.length}.`);
      const key = requireString('metric_key', i.metric_key);
      const out = [];
      for (const id of ids) {
        const { metrics } = await t.metrics.history(ws, id, key, 25_000);
        out.push(...metrics.map((m) => ({ ...m, run_id: id })));
      }
      return { metrics: out.slice(0, 25_000) };
    },
    ['/ajax-api/2.0/mlflow'],
  );

  // Run artifact listing (paths relative to the run's artifact root)
  rpc(app, 'GET', '/artifacts/list', 'runs/read', async (ws, i) => {
    const run = await t.runs.findRow(ws, runId(i));
    const files = await t.artifacts.listUnder(ws, run.artifact_uri, optionalString('path', i.path));
    return { root_uri: run.artifact_uri, files };
  });
}
