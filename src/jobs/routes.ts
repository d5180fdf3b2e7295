import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from '../core/errors.js';
import type { ComputeTargets } from '../compute/targets.js';
import { RegistryQuery, scopeFor } from '../registry/asset-routes.js';
import type { ContentStore } from '../registry/content.js';
import type { Database } from '../store/db.js';
import { contentTypeOf } from '../tracking/artifacts.js';
import type { ModelPackaging, PackageRequest } from './packaging.js';
import { TERMINAL_STATUSES, type JobService, type JobStatus, type LogEntry } from './service.js';

export interface JobRouteDeps {
  database: Database;
  jobs: JobService;
  packaging: ModelPackaging;
  computes: ComputeTargets;
  content: ContentStore;
  /** The URL task runners reach this server at (known once it listens). */
  serverUrl(): string;
}

const Name = Type.Object({ name: Type.String() });
const tags = ['jobs'];
const user = (req: FastifyRequest) => ({ name: req.principal?.name ?? 'anonymous', id: req.principal && req.principal.kind !== 'local' ? req.principal.id : null });

/** SSE keeps the connection open; a comment line every so often keeps proxies from closing it. */
const KEEPALIVE_MS = 15_000;

/** Jobs, their logs (JSON or a live server-sent-event stream), outputs, the task protocol, compute targets. */
export function jobRoutes(app: FastifyInstance, deps: JobRouteDeps): void {
  const { jobs, computes } = deps;

  app.post(
    '/api/v1/jobs',
    {
      config: { action: 'jobs/write' },
      schema: {
        summary: 'Submit a command job (Azure ML command job spec as JSON; local paths uploaded first as content)',
        tags,
        body: Type.Object({
          spec: Type.Unknown(),
          uploads: Type.Optional(Type.Object({ code: Type.Optional(Type.String()), inputs: Type.Optional(Type.Record(Type.String(), Type.String())) })),
          experiment_name: Type.Optional(Type.String()),
        }),
      },
    },
    async (req, reply) => reply.status(201).send(await jobs.create(req.workspace, req.body as Parameters<JobService['create']>[1], user(req))),
  );
  app.post(
    '/api/v1/models/:name/versions/:version/package',
    {
      config: { action: 'models/write' },
      schema: {
        summary: 'Package a model version (scikit-learn MLflow → ONNX) by a job; its output is registered as a new version of the workspace',
        tags: ['models'],
        params: Type.Object({ name: Type.String(), version: Type.String() }),
        querystring: RegistryQuery,
        body: Type.Object({
          target: Type.Optional(Type.String()),
          output_name: Type.Optional(Type.String()),
          output_version: Type.Optional(Type.String()),
          tolerance: Type.Optional(Type.Number({ minimum: 0 })),
        }),
      },
    },
    async (req, reply) => {
      const p = req.params as { name: string; version: string };
      const source = await scopeFor(req, deps.database);
      return reply.status(201).send(await deps.packaging.package(req.workspace, source, { ...(req.body as Omit<PackageRequest, 'name' | 'version'>), ...p }, user(req)));
    },
  );
  app.get(
    '/api/v1/jobs',
    {
      config: { action: 'jobs/read' },
      schema: {
        summary: 'List jobs, newest first',
        tags,
        querystring: Type.Object({ status: Type.Optional(Type.String()), include_archived: Type.Optional(Type.Boolean()), max_results: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) }),
      },
    },
    async (req) => {
      const q = req.query as { status?: string; include_archived?: boolean; max_results?: number };
      return { jobs: await jobs.list(req.workspace, { status: q.status, includeArchived: q.include_archived, maxResults: q.max_results }) };
    },
  );
  app.get('/api/v1/jobs/:name', { config: { action: 'jobs/read' }, schema: { summary: 'Get a job', tags, params: Name } }, async (req) => jobs.get(req.workspace, (req.params as { name: string }).name));
  app.post('/api/v1/jobs/:name/cancel', { config: { action: 'jobs/write' }, schema: { summary: 'Cancel a job (its processes are stopped within 2 s)', tags, params: Name } }, async (req) =>
    jobs.cancel(req.workspace, (req.params as { name: string }).name),
  );
  for (const [verb, archived] of [['archive', true], ['restore', false]] as const) {
    app.post(`/api/v1/jobs/:name/${verb}`, { config: { action: 'jobs/write' }, schema: { summary: `${verb} a job`, tags, params: Name } }, async (req) =>
      jobs.setArchived(req.workspace, (req.params as { name: string }).name, archived),
    );
  }

  app.get(
    '/api/v1/jobs/:name/logs',
    {
      config: { action: 'jobs/read' },
      schema: {
        summary: 'Log lines after an id; with follow=true (or Accept: text/event-stream) a live server-sent-event stream until the job ends',
        tags,
        params: Name,
        querystring: Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0 })), follow: Type.Optional(Type.Boolean()) }),
      },
    },
    async (req, reply) => {
      const q = req.query as { after?: number; follow?: boolean };
      const name = (req.params as { name: string }).name;
      if (q.follow || String(req.headers.accept ?? '').includes('text/event-stream')) return streamLogs(req, reply, jobs, name, q.after ?? 0);
      const { entries, status } = await jobs.logs(req.workspace, name, q.after ?? 0);
      return { entries, status, next: entries.length > 0 ? (entries[entries.length - 1] as LogEntry).id : (q.after ?? 0) };
    },
  );

  app.get('/api/v1/jobs/:name/outputs/:output/files', { config: { action: 'jobs/read' }, schema: { summary: "List the files of a job's output", tags, params: Type.Object({ name: Type.String(), output: Type.String() }) } }, async (req) => {
    const p = req.params as { name: string; output: string };
    const out = await outputOf(req, jobs, p.name, p.output);
    const found = out.hash ? await deps.content.find(req.workspace.name, out.hash) : undefined;
    return { hash: out.hash, files: found?.files ?? [] };
  });
  app.get('/api/v1/jobs/:name/outputs/:output/files/*', { config: { action: 'jobs/read' }, schema: { summary: "Download one file of a job's output", tags } }, async (req, reply) => {
    const p = req.params as { name: string; output: string; '*': string };
    const out = await outputOf(req, jobs, p.name, p.output);
    if (!out.hash) throw notFound(`Output '${p.output}' of job '${p.name}' has no files.`);
    const file = await deps.content.open(req.workspace.name, out.hash, p['*']);
    return reply.header('Content-Type', contentTypeOf(p['*'])).header('Content-Length', file.size).send(file.stream);
  });

  // ---- the task protocol (docs/task-protocol.md): called by a job's runner with the job's token ----
  const Report = Type.Object({ attempt: Type.Integer() }, { additionalProperties: true });
  app.get('/api/v1/jobs/:name/task', { config: { action: 'jobs/write' }, schema: { summary: 'Task runner: the task of a job', tags, params: Name } }, async (req) => {
    const auth = req.headers.authorization;
    const bearer = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
    return jobs.task(req.workspace, (req.params as { name: string }).name, deps.serverUrl(), bearer);
  });
  app.post('/api/v1/jobs/:name/task/status', { config: { action: 'jobs/write' }, schema: { summary: 'Task runner: report a status', tags, params: Name, body: Report } }, async (req) =>
    jobs.reportStatus(req.workspace, (req.params as { name: string }).name, req.body as Record<string, unknown>),
  );
  app.post('/api/v1/jobs/:name/task/logs', { config: { action: 'jobs/write' }, schema: { summary: 'Task runner: append log text', tags, params: Name, body: Report } }, async (req) =>
    jobs.reportLogs(req.workspace, (req.params as { name: string }).name, req.body as Record<string, unknown>),
  );
  app.post('/api/v1/jobs/:name/task/heartbeat', { config: { action: 'jobs/write' }, schema: { summary: 'Task runner: still alive (answers whether to cancel)', tags, params: Name, body: Report } }, async (req) =>
    jobs.reportHeartbeat(req.workspace, (req.params as { name: string }).name, req.body as Record<string, unknown>),
  );
  app.post('/api/v1/jobs/:name/task/result', { config: { action: 'jobs/write' }, schema: { summary: 'Task runner: the result and outputs', tags, params: Name, body: Report } }, async (req) =>
    jobs.reportResult(req.workspace, (req.params as { name: string }).name, req.body as Record<string, unknown>),
  );

  // ---- compute targets ----
  const computeTags = ['compute'];
  app.post('/api/v1/computes', { config: { action: 'compute/write' }, schema: { summary: 'Create a compute target (Azure ML compute spec as JSON)', tags: computeTags, body: Type.Object({ spec: Type.Unknown() }) } }, async (req, reply) =>
    reply.status(201).send(await computes.create(req.workspace.name, (req.body as { spec: unknown }).spec, req.principal?.name ?? 'anonymous')),
  );
  app.get('/api/v1/computes', { config: { action: 'compute/read' }, schema: { summary: 'List compute targets with their queues', tags: computeTags } }, async (req) => {
    const list = await computes.list(req.workspace.name);
    return { computes: await Promise.all(list.map(async (c) => ({ ...c, ...(await queueOf(jobs, req, c.name)) }))) };
  });
  app.get('/api/v1/computes/:name', { config: { action: 'compute/read' }, schema: { summary: 'Get a compute target and its queue', tags: computeTags, params: Name } }, async (req) => {
    const c = await computes.get(req.workspace.name, (req.params as { name: string }).name);
    return { ...c, ...(await queueOf(jobs, req, c.name)) };
  });
  app.delete('/api/v1/computes/:name', { config: { action: 'compute/delete' }, schema: { summary: 'Delete a compute target (refused while it has jobs)', tags: computeTags, params: Name } }, async (req) => {
    const name = (req.params as { name: string }).name;
    await computes.delete(req.workspace.name, name, (await jobs.openOn(req.workspace.name, name)).length);
    return {};
  });
}

async function queueOf(jobs: JobService, req: FastifyRequest, compute: string): Promise<{ running: number; queued: number; jobs: { name: string; status: string; slots: number }[] }> {
  const open = await jobs.openOn(req.workspace.name, compute);
  return {
    running: open.filter((j) => j.status !== 'Queued').reduce((n, j) => n + j.slots, 0),
    queued: open.filter((j) => j.status === 'Queued').length,
    jobs: open,
  };
}

async function outputOf(req: FastifyRequest, jobs: JobService, name: string, output: string): Promise<{ hash: string | null }> {
  const job = await jobs.get(req.workspace, name);
  const out = job.outputs[output];
  if (!out) throw notFound(`Job '${name}' has no output '${output}'${Object.keys(job.outputs).length > 0 ? ` (outputs: ${Object.keys(job.outputs).join(', ')})` : ''}.`);
  return { hash: 'hash' in out ? out.hash : null };
}

/** Server-sent events: `log` events with the lines as they arrive, then one `end` event with the final status. */
async function streamLogs(req: FastifyRequest, reply: FastifyReply, jobs: JobService, name: string, after: number): Promise<void> {
  let last = after;
  let { status } = await jobs.logs(req.workspace, name, Number.MAX_SAFE_INTEGER); // 404 before the stream opens
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'x-request-id': String(req.id) });
  let closed = false;
  let wake: (() => void) | undefined;
  const poke = (): void => wake?.();
  req.raw.on('close', () => {
    closed = true;
    poke();
  });
  jobs.events.on(`log:${name}`, poke);
  jobs.events.on(`status:${name}`, poke);
  try {
    while (!closed) {
      const page = await jobs.logs(req.workspace, name, last);
      status = page.status;
      for (const e of page.entries) {
        res.write(`id: ${e.id}\nevent: log\ndata: ${JSON.stringify(e)}\n\n`);
        last = e.id;
      }
      if (page.entries.length > 0) continue;
      if (TERMINAL_STATUSES.includes(status as JobStatus)) {
        const job = await jobs.get(req.workspace, name);
        res.write(`event: end\ndata: ${JSON.stringify({ status: job.status, exit_code: job.exit_code, error: job.error })}\n\n`);
        break;
      }
      const timedOut = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), KEEPALIVE_MS);
        wake = () => {
          clearTimeout(timer);
          resolve(false);
        };
      });
      wake = undefined;
      if (timedOut && !closed) res.write(': keepalive\n\n');
    }
  } catch (err) {
    if (!closed) res.write(`event: error\ndata: ${JSON.stringify({ message: (err as Error).message })}\n\n`);
  } finally {
    jobs.events.off(`log:${name}`, poke);
    jobs.events.off(`status:${name}`, poke);
    res.end();
  }
}
