import { basename } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { LapisError } from '../../core/errors.js';
import { contentTypeOf } from '../artifacts.js';
import { parseViewType } from '../experiments.js';
import type { Tracking } from '../index.js';
import { LIMITS, maxResults } from '../validation.js';

const SearchQuery = Type.Object({
  filter: Type.Optional(Type.String({ description: "MLflow search grammar, e.g. \"metrics.rmse < 0.8 and params.alpha = '0.5'\"" })),
  order_by: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())], { description: 'e.g. "metrics.rmse ASC"; repeatable' })),
  view: Type.Optional(Type.Union([Type.Literal('ACTIVE_ONLY'), Type.Literal('DELETED_ONLY'), Type.Literal('ALL')])),
  max_results: Type.Optional(Type.Integer({ minimum: 1 })),
  page_token: Type.Optional(Type.String()),
});

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * The native tracking API used by the CLI and the studio: the same services as the MLflow RPCs,
 * with REST paths, experiment names accepted wherever ids are, and recursive artifact listing.
 */
export function nativeTrackingRoutes(app: FastifyInstance, t: Tracking): void {
  const experimentId = async (ws: Parameters<Tracking['experiments']['get']>[0], idOrName: string): Promise<number> =>
    /^\d+$/.test(idOrName) ? t.experiments.requireId(ws, idOrName) : Number((await t.experiments.getByName(ws, idOrName)).experiment_id);

  app.get('/api/v1/experiments', { config: { action: 'experiments/read' }, schema: { summary: 'Search experiments', tags: ['tracking'], querystring: SearchQuery } }, async (req) => {
    const q = req.query as { filter?: string; order_by?: string | string[]; view?: string; max_results?: number; page_token?: string };
    const res = await t.experiments.search(req.workspace, {
      filter: q.filter,
      orderBy: asList(q.order_by),
      viewType: parseViewType('view', q.view),
      maxResults: maxResults('max_results', q.max_results, 1000, LIMITS.searchExperimentsMaxResults),
      pageToken: q.page_token,
    });
    return { experiments: res.experiments, next_page_token: res.nextPageToken ?? null };
  });

  app.get(
    '/api/v1/experiments/:experiment',
    { config: { action: 'experiments/read' }, schema: { summary: 'Get an experiment by id or name', tags: ['tracking'], params: Type.Object({ experiment: Type.String() }) } },
    async (req) => {
      const ref = (req.params as { experiment: string }).experiment;
      return /^\d+$/.test(ref) ? t.experiments.get(req.workspace, ref) : t.experiments.getByName(req.workspace, ref);
    },
  );

  app.post(
    '/api/v1/runs/search',
    {
      config: { action: 'runs/read' },
      schema: {
        summary: 'Search runs',
        tags: ['tracking'],
        body: Type.Object({
          experiments: Type.Optional(Type.Array(Type.String(), { description: 'Experiment ids or names; default: the Default experiment' })),
          filter: Type.Optional(Type.String()),
          order_by: Type.Optional(Type.Array(Type.String())),
          view: Type.Optional(Type.Union([Type.Literal('ACTIVE_ONLY'), Type.Literal('DELETED_ONLY'), Type.Literal('ALL')])),
          max_results: Type.Optional(Type.Integer({ minimum: 1 })),
          page_token: Type.Optional(Type.String()),
          offset: Type.Optional(Type.Integer({ minimum: 0, description: 'Start at this row instead of a page token (random access, e.g. a scrolled table)' })),
          include_total: Type.Optional(Type.Boolean({ description: 'Also count every matching run (total_count)' })),
        }),
      },
    },
    async (req) => {
      const b = req.body as { experiments?: string[]; filter?: string; order_by?: string[]; view?: string; max_results?: number; page_token?: string; offset?: number; include_total?: boolean };
      if (b.offset !== undefined && b.page_token !== undefined) throw new LapisError('INVALID_ARGUMENT', 'Pass either offset or page_token, not both.');
      const refs = b.experiments && b.experiments.length > 0 ? b.experiments : ['0'];
      const experimentIds = await Promise.all(refs.map((r) => experimentId(req.workspace, r)));
      const res = await t.searchRuns(req.workspace, {
        experimentIds,
        filter: b.filter,
        orderBy: b.order_by,
        viewType: parseViewType('view', b.view),
        maxResults: maxResults('max_results', b.max_results, 100, LIMITS.searchRunsMaxResults),
        pageToken: b.page_token,
        offset: b.offset,
        includeTotal: b.include_total,
      });
      return { runs: res.runs, next_page_token: res.nextPageToken ?? null, ...(res.total !== undefined ? { total_count: res.total } : {}) };
    },
  );

  const RunParams = Type.Object({ run_id: Type.String() });
  app.get('/api/v1/runs/:run_id', { config: { action: 'runs/read' }, schema: { summary: 'Get a run', tags: ['tracking'], params: RunParams } }, async (req) =>
    t.runs.get(req.workspace, (req.params as { run_id: string }).run_id),
  );

  app.get(
    '/api/v1/runs/:run_id/metrics/:key/history',
    {
      config: { action: 'runs/read' },
      schema: {
        summary: "A metric's history: all of it, or down-sampled for a chart",
        tags: ['tracking'],
        params: Type.Object({ run_id: Type.String(), key: Type.String() }),
        querystring: Type.Object({
          max_points: Type.Optional(Type.Integer({ minimum: 4, maximum: 100_000, description: 'Down-sample to at most this many points (each step bucket keeps its min and max); `total` tells how many there are' })),
        }),
      },
    },
    async (req, reply) => {
      const p = req.params as { run_id: string; key: string };
      const { max_points: maxPoints } = req.query as { max_points?: number };
      if (maxPoints !== undefined) return reply.type('application/json').send(await t.metrics.historyDownsampledJson(req.workspace, p.run_id, p.key, maxPoints));
      return { metrics: (await t.metrics.history(req.workspace, p.run_id, p.key)).metrics };
    },
  );

  app.get(
    '/api/v1/runs/:run_id/artifacts',
    {
      config: { action: 'runs/read' },
      schema: {
        summary: "List a run's artifacts",
        tags: ['tracking'],
        params: RunParams,
        querystring: Type.Object({ path: Type.Optional(Type.String()), recursive: Type.Optional(Type.Boolean()) }),
      },
    },
    async (req) => {
      const { run_id: runId } = req.params as { run_id: string };
      const q = req.query as { path?: string; recursive?: boolean };
      const run = await t.runs.findRow(req.workspace, runId);
      if (!q.recursive) return { root_uri: run.artifact_uri, files: await t.artifacts.listUnder(req.workspace, run.artifact_uri, q.path) };
      const root = t.artifacts.proxyPathOf(run.artifact_uri);
      const files: { path: string; is_dir: false; file_size: number }[] = [];
      if (root !== undefined) {
        const base = q.path ? q.path.replace(/^\/+|\/+$/g, '') : '';
        const prefix = t.artifacts.keyOf(req.workspace, base ? `${root}/${base}` : root);
        for await (const f of t.artifacts.blobs.listRecursive(prefix)) files.push({ path: base ? `${base}/${f.path}` : f.path, is_dir: false, file_size: f.size });
      }
      files.sort((a, b) => a.path.localeCompare(b.path));
      return { root_uri: run.artifact_uri, files };
    },
  );

  app.get(
    '/api/v1/runs/:run_id/artifacts/*',
    { config: { action: 'runs/read' }, schema: { summary: 'Download one artifact file', tags: ['tracking'] } },
    async (req, reply) => {
      const params = req.params as { run_id: string; '*': string };
      const run = await t.runs.findRow(req.workspace, params.run_id);
      const root = t.artifacts.proxyPathOf(run.artifact_uri);
      if (root === undefined) throw new LapisError('NOT_FOUND', `Run ${run.run_uuid} stores its artifacts outside this server (${run.artifact_uri}).`);
      const path = params['*'].replace(/^\/+/, '');
      const key = t.artifacts.keyOf(req.workspace, `${root}/${path}`);
      const stat = await t.artifacts.blobs.stat(key);
      if (!stat || stat.isDir) throw new LapisError('NOT_FOUND', `Run ${run.run_uuid} has no artifact file '${path}'.`);
      reply
        .header('Content-Type', contentTypeOf(path))
        .header('Content-Length', String(stat.size))
        .header('Content-Disposition', `attachment; filename="${basename(path).replace(/["\\\r\n]/g, '_')}"`)
        .header('X-Content-Type-Options', 'nosniff');
      return reply.send(await t.artifacts.blobs.get(key));
    },
  );
}
