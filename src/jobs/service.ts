/**
 * Jobs: submission, the status machine, logs, and the server side of the task protocol
 * (docs/task-protocol.md). The scheduler (controller.ts) decides when a queued job starts; this
 * service owns every status change, so each one is one conditional UPDATE and two controllers can
 * never both move the same job.
 *
 *   Queued → Preparing → Running → Finalizing → Completed | Failed | Canceled
 */
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import type { Selectable } from 'kysely';
import { now } from '../core/clock.js';
import { LapisError, alreadyExists, invalid, notFound } from '../core/errors.js';
import { RUN_ID_PATTERN } from '../core/ids.js';
import type { AssetService } from '../registry/assets.js';
import type { ContentFile, ContentStore } from '../registry/content.js';
import { scopeOf, type ModelAssets } from '../registry/model-assets.js';
import type { JobOutputSpec, JobSpec } from '../specs/index.js';
import type { Database } from '../store/db.js';
import type { JobTable } from '../store/schema.js';
import type { Tracking } from '../tracking/index.js';
import { randomRunName } from '../tracking/run-names.js';
import type { Workspace } from '../workspaces/service.js';
import type { ComputeTargets } from '../compute/targets.js';
import type { DatastoreService } from '../datastores/service.js';
import { resolveJob, type ResolveDeps, type TaskBody, type Uploads } from './resolve.js';

export const JOB_STATUSES = ['Queued', 'Preparing', 'Running', 'Finalizing', 'Completed', 'Failed', 'Canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const ACTIVE_STATUSES: readonly JobStatus[] = ['Preparing', 'Running', 'Finalizing'];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['Completed', 'Failed', 'Canceled'];
const RUN_STATUS: Record<'Completed' | 'Failed' | 'Canceled', 'FINISHED' | 'FAILED' | 'KILLED'> = { Completed: 'FINISHED', Failed: 'FAILED', Canceled: 'KILLED' };

/** A job's log lines kept in the database; past this, the rest is dropped with a note (the local std_log.txt keeps all). */
const LOG_LIMIT_BYTES = 64 * 1024 * 1024;

export interface JobOutputView {
  type: string;
  hash: string | null;
  files: number;
  size: number;
  /** The asset it was registered as (`azureml:name:version`), if the spec asked for it. */
  registered?: string;
  /** The datastore path it was also written to (the spec's `path`). */
  path?: string;
}

export interface JobView {
  name: string;
  type: 'command';
  display_name: string;
  experiment_id: string;
  status: JobStatus;
  compute: string;
  slots: number;
  created_at: number;
  created_by: string;
  status_times: Partial<Record<JobStatus, number>>;
  started_at: number | null;
  ended_at: number | null;
  duration_ms: number | null;
  exit_code: number | null;
  error: string | null;
  cancel_requested: boolean;
  archived: boolean;
  tags: Record<string, string>;
  run_id: string;
  environment: string;
  code: string | null;
  command: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, JobOutputView | { type: string }>;
  spec: Record<string, unknown>;
  /** A batch endpoint's job: its mini-batches so far, from the metrics its driver logs on the run. */
  progress?: BatchProgress;
}

export interface BatchProgress {
  mini_batches_total: number;
  mini_batches_succeeded: number;
  mini_batches_failed: number;
  items_failed: number;
  /** Rows in the predictions file, once written (a failed job's are those of the mini-batches that succeeded). */
  rows_written?: number;
}

/** The tag that marks a batch endpoint's job (its value: the endpoint's name). */
export const BATCH_ENDPOINT_TAG = 'lapis.batch_endpoint';
/** A batch job's predictions file in its output `score` (absent for summary_only). */
export const BATCH_OUTPUT_FILE_TAG = 'lapis.batch_output_file';

export interface LogEntry {
  id: number;
  stream: string;
  text: string;
  ts: number;
}

export interface JobServiceDeps extends Omit<ResolveDeps, 'jobOutput'> {
  database: Database;
  tracking: Tracking;
  computes: ComputeTargets;
  assets: AssetService;
  models: ModelAssets;
  content: ContentStore;
  datastores: DatastoreService;
}

type Row = Selectable<JobTable>;

export class JobService {
  readonly #d: JobServiceDeps;
  /**
   * `log:<job>` on new log lines, `status:<job>` on status changes, `queued` when a job enters the
   * queue or frees slots, `ended` (with the name) once a job has ended, `cancel` (with the name).
   */
  readonly events = new EventEmitter();
  /** Log bytes stored per job in this process (approximate, for the cap). */
  readonly #logBytes = new Map<string, number>();

  constructor(deps: JobServiceDeps) {
    this.#d = deps;
    this.events.setMaxListeners(0);
  }

  // ---- submission ---------------------------------------------------------------------------

  /** `opts.slots`: slots to hold beyond the command's copies (a batch job runs one driver for all its instances). */
  async create(ws: Workspace, body: { spec?: unknown; uploads?: Uploads; experiment_name?: string }, createdBy: { name: string; id: string | null }, opts: { slots?: number } = {}): Promise<JobView> {
    const uploads = checkUploads(body.uploads);
    const resolved = await resolveJob(ws.name, body.spec, uploads, { ...this.#d, jobOutput: (w, j, o) => this.#jobOutput(w, j, o) });
    const { spec, task } = resolved;
    const name = spec.name ?? generatedName();
    if (!RUN_ID_PATTERN.test(name)) throw invalid(`Job name '${name}' must start with a letter or digit and contain only letters, digits, "_" and "-".`);
    if (await this.#d.database.db.selectFrom('jobs').select('name').where('name', '=', name).executeTakeFirst()) {
      throw alreadyExists(`A job named '${name}' already exists; job names are unique. Choose another --name, or omit it for a generated one.`);
    }
    const experimentName = spec.experiment_name ?? body.experiment_name ?? 'Default';
    const experimentId = await this.#experimentId(ws, experimentName);
    const displayName = spec.display_name ?? name;
    const tags = [
      ...Object.entries(spec.tags ?? {}).map(([key, value]) => ({ key, value })),
      { key: 'mlflow.user', value: createdBy.name },
      { key: 'mlflow.source.type', value: 'JOB' },
      { key: 'mlflow.source.name', value: `lapis job ${name}` },
      { key: 'lapis.job', value: name },
      { key: 'lapis.environment', value: resolved.environmentRef },
      ...(task.code ? [{ key: 'lapis.code', value: task.code.hash }] : []),
    ];
    const t = now();
    const row: JobTable = {
      name,
      workspace: ws.name,
      experiment_id: experimentId,
      display_name: displayName,
      status: 'Queued',
      compute: resolved.compute.name,
      slots: Math.max(task.instance_count, opts.slots ?? 1),
      spec: JSON.stringify(spec),
      task: JSON.stringify(task),
      created_at: t,
      created_by: createdBy.name,
      principal_id: createdBy.id,
      status_times: JSON.stringify({ Queued: t }),
      ended_at: null,
      exit_code: null,
      error: null,
      attempt: 0,
      lease_owner: null,
      lease_expires_at: null,
      pid: null,
      cancel_requested: 0,
      token_id: null,
      outputs: null,
      archived: 0,
    };
    // The job row goes first: its primary key reserves the name, so a racing submit loses cleanly.
    try {
      await this.#d.database.db.insertInto('jobs').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw alreadyExists(`A job named '${name}' already exists.`);
      throw err;
    }
    try {
      await this.#d.tracking.runs.create(ws, { experimentId: String(experimentId), userId: createdBy.name, runName: displayName, tags, job: { runId: name, status: 'SCHEDULED' } });
    } catch (err) {
      await this.#d.database.db.deleteFrom('jobs').where('name', '=', name).execute();
      if (isUniqueViolation(err)) throw alreadyExists(`A run with id '${name}' already exists; choose another job name.`);
      throw err;
    }
    if (resolved.dataRefs.length > 0) await this.#logDataInputs(ws, name, resolved.dataRefs);
    await this.appendServerLog(name, `Queued on compute '${resolved.compute.name}' (${resolved.compute.max_instances} slot${resolved.compute.max_instances === 1 ? '' : 's'}); environment: ${task.environment.name}`);
    this.events.emit('queued');
    return view(row);
  }

  async #experimentId(ws: Workspace, name: string): Promise<number> {
    const experiments = this.#d.tracking.experiments;
    try {
      return Number((await experiments.getByName(ws, name)).experiment_id);
    } catch (err) {
      if (!(err instanceof LapisError) || err.code !== 'NOT_FOUND') throw err;
    }
    try {
      return Number(await experiments.create(ws, name, undefined, []));
    } catch (err) {
      // Two jobs creating the same experiment at once: the loser reads the winner's.
      if (err instanceof LapisError && err.code === 'ALREADY_EXISTS') return Number((await experiments.getByName(ws, name)).experiment_id);
      throw err;
    }
  }

  async #logDataInputs(ws: Workspace, runId: string, refs: string[]): Promise<void> {
    const datasets = refs.map((ref) => ({
      dataset: { name: ref.replace(/^azureml:/, ''), digest: ref.slice(-8), source_type: 'lapis', source: JSON.stringify({ uri: ref }) },
      tags: [{ key: 'mlflow.data.context', value: 'input' }],
    }));
    await this.#d.tracking.runs.logInputs(ws, runId, datasets, []);
  }

  async #jobOutput(workspace: string, job: string, output: string): Promise<{ hash: string | null; files: ContentFile[] } | undefined> {
    const row = await this.#d.database.db.selectFrom('jobs').select(['outputs', 'spec']).where('name', '=', job).where('workspace', '=', workspace).executeTakeFirst();
    if (!row) return undefined;
    const outputs = row.outputs ? (JSON.parse(row.outputs) as Record<string, { hash: string | null }>) : {};
    const spec = JSON.parse(row.spec) as JobSpec;
    if (!(output in (spec.outputs ?? {}))) return undefined;
    const hash = outputs[output]?.hash ?? null;
    if (!hash) return { hash: null, files: [] };
    const content = await this.#d.content.find(workspace, hash);
    return { hash, files: content?.files ?? [] };
  }

  // ---- reading ------------------------------------------------------------------------------

  async #row(workspace: string, name: unknown): Promise<Row> {
    if (typeof name !== 'string' || !RUN_ID_PATTERN.test(name)) throw notFound(`No job '${String(name)}'. List jobs with 'lapis job list'.`);
    const row = await this.#d.database.db.selectFrom('jobs').selectAll().where('name', '=', name).where('workspace', '=', workspace).executeTakeFirst();
    if (!row) throw notFound(`No job '${name}' in workspace '${workspace}'. List jobs with 'lapis job list'.`);
    return row;
  }

  async get(ws: Workspace, name: unknown): Promise<JobView> {
    const job = view(await this.#row(ws.name, name));
    if (job.tags[BATCH_ENDPOINT_TAG]) {
      const progress = await this.#batchProgress(ws, job.name);
      if (progress) job.progress = progress;
    }
    return job;
  }

  async #batchProgress(ws: Workspace, name: string): Promise<BatchProgress | undefined> {
    const run = await this.#d.tracking.runs.get(ws, name).catch(() => undefined);
    const metrics = new Map((run?.data.metrics ?? []).map((m) => [m.key, Number(m.value)]));
    if (!metrics.has('mini_batches_total')) return undefined;
    const of = (key: string): number => metrics.get(key) ?? 0;
    return {
      mini_batches_total: of('mini_batches_total'),
      mini_batches_succeeded: of('mini_batches_succeeded'),
      mini_batches_failed: of('mini_batches_failed'),
      items_failed: of('items_failed'),
      ...(metrics.has('rows_written') ? { rows_written: of('rows_written') } : {}),
    };
  }

  async list(ws: Workspace, opts: { status?: string | undefined; includeArchived?: boolean | undefined; maxResults?: number | undefined }): Promise<JobView[]> {
    let q = this.#d.database.db.selectFrom('jobs').selectAll().where('workspace', '=', ws.name);
    if (opts.status) {
      const status = JOB_STATUSES.find((s) => s.toLowerCase() === opts.status?.toLowerCase());
      if (!status) throw invalid(`Unknown status '${opts.status}'; use one of ${JOB_STATUSES.join(', ')}.`);
      q = q.where('status', '=', status);
    }
    if (!opts.includeArchived) q = q.where('archived', '=', 0);
    const rows = await q.orderBy('created_at', 'desc').limit(Math.min(opts.maxResults ?? 100, 10_000)).execute();
    return rows.map(view);
  }

  async setArchived(ws: Workspace, name: unknown, archived: boolean): Promise<JobView> {
    const row = await this.#row(ws.name, name);
    await this.#d.database.db.updateTable('jobs').set({ archived: archived ? 1 : 0 }).where('name', '=', row.name).execute();
    return view({ ...row, archived: archived ? 1 : 0 });
  }

  /** The queued and active jobs of a compute target, oldest first. */
  async openOn(workspace: string, compute: string): Promise<{ name: string; status: JobStatus; slots: number }[]> {
    const rows = await this.#d.database.db
      .selectFrom('jobs')
      .select(['name', 'status', 'slots'])
      .where('workspace', '=', workspace)
      .where('compute', '=', compute)
      .where('status', 'in', ['Queued', ...ACTIVE_STATUSES])
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({ name: r.name, status: r.status as JobStatus, slots: Number(r.slots) }));
  }

  // ---- logs ---------------------------------------------------------------------------------

  async logs(ws: Workspace, name: unknown, after = 0): Promise<{ entries: LogEntry[]; status: JobStatus }> {
    const row = await this.#row(ws.name, name);
    const entries = await this.#d.database.db
      .selectFrom('job_logs')
      .select(['id', 'stream', 'text', 'ts'])
      .where('job', '=', row.name)
      .where('id', '>', after)
      .orderBy('id')
      .limit(5000)
      .execute();
    return { entries: entries.map((e) => ({ id: Number(e.id), stream: e.stream, text: e.text, ts: Number(e.ts) })), status: row.status as JobStatus };
  }

  async appendServerLog(job: string, line: string): Promise<void> {
    await this.#appendLog(job, null, 'system', `[lapis] ${line}\n`);
  }

  async #appendLog(job: string, seq: number | null, stream: string, text: string): Promise<void> {
    const used = this.#logBytes.get(job) ?? 0;
    if (used > LOG_LIMIT_BYTES) return;
    const next = used + Buffer.byteLength(text);
    this.#logBytes.set(job, next);
    const stored = next > LOG_LIMIT_BYTES ? `[lapis] the log passed ${LOG_LIMIT_BYTES / 1024 / 1024} MB; later lines are only in the job's std_log.txt\n` : text;
    await this.#d.database.db
      .insertInto('job_logs')
      .values({ job, seq, stream, text: stored, ts: now() })
      .onConflict((oc) => oc.columns(['job', 'seq']).doNothing())
      .execute();
    this.events.emit(`log:${job}`);
  }

  // ---- status changes -----------------------------------------------------------------------

  /** Moves a job from one of `from` to `to`; false when it was not in `from` (someone else moved it). */
  async transition(name: string, from: readonly JobStatus[], to: JobStatus, patch: Partial<JobTable> = {}, attempt?: number): Promise<boolean> {
    const row = await this.#d.database.db.selectFrom('jobs').select(['status_times', 'status']).where('name', '=', name).executeTakeFirst();
    if (!row || !from.includes(row.status as JobStatus)) return false;
    const t = now();
    const times = { ...(JSON.parse(row.status_times) as Record<string, number>), [to]: t };
    let q = this.#d.database.db
      .updateTable('jobs')
      .set({ ...patch, status: to, status_times: JSON.stringify(times), ...(TERMINAL_STATUSES.includes(to) ? { ended_at: t } : {}) })
      .where('name', '=', name)
      .where('status', '=', row.status);
    if (attempt !== undefined) q = q.where('attempt', '=', attempt);
    const res = await q.executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return false;
    this.events.emit(`status:${name}`, to);
    if (TERMINAL_STATUSES.includes(to) || to === 'Queued') this.events.emit('queued');
    return true;
  }

  /** Cancel: a queued job ends at once; an active one is flagged, and the controller stops its process. */
  async cancel(ws: Workspace, name: unknown): Promise<JobView> {
    const row = await this.#row(ws.name, name);
    if (TERMINAL_STATUSES.includes(row.status as JobStatus)) throw invalid(`Job '${row.name}' already ended (${row.status}); there is nothing to cancel.`);
    if (row.status === 'Queued' && (await this.transition(row.name, ['Queued'], 'Canceled', { error: 'canceled before it started' }))) {
      await this.#endRun(row, 'Canceled');
      await this.appendServerLog(row.name, 'Canceled while queued.');
      this.events.emit(`cancel:${row.name}`);
      return this.get(ws, row.name);
    }
    await this.#d.database.db.updateTable('jobs').set({ cancel_requested: 1 }).where('name', '=', row.name).execute();
    await this.appendServerLog(row.name, `Cancel requested by the user.`);
    this.events.emit('cancel', row.name);
    return this.get(ws, row.name);
  }

  // ---- the task protocol ---------------------------------------------------------------------

  /** The runner's task: the stored body plus attempt, tracking URI and MLflow variables. */
  async task(ws: Workspace, name: unknown, serverUrl: string, bearer: string | undefined): Promise<Record<string, unknown>> {
    const row = await this.#activeRow(ws, name);
    const body = JSON.parse(row.task) as TaskBody;
    const trackingUri = `${serverUrl.replace(/\/+$/, '')}/workspaces/${encodeURIComponent(ws.name)}`;
    return {
      job: row.name,
      workspace: ws.name,
      attempt: row.attempt,
      run_id: row.name,
      experiment_id: String(row.experiment_id),
      tracking_uri: trackingUri,
      ...body,
      environment_variables: {
        ...body.environment_variables,
        MLFLOW_TRACKING_URI: trackingUri,
        MLFLOW_RUN_ID: row.name,
        MLFLOW_EXPERIMENT_ID: String(row.experiment_id),
        ...(bearer ? { MLFLOW_TRACKING_TOKEN: bearer } : {}),
      },
    };
  }

  async #activeRow(ws: Workspace, name: unknown, attempt?: unknown): Promise<Row> {
    const row = await this.#row(ws.name, name);
    if (attempt !== undefined && attempt !== row.attempt) throw new LapisError('CONFLICT', `Attempt ${String(attempt)} of job '${row.name}' is stale (the current one is ${row.attempt}); this runner must stop.`);
    if (!ACTIVE_STATUSES.includes(row.status as JobStatus)) throw new LapisError('CONFLICT', `Job '${row.name}' is ${row.status}, not running; this runner must stop.`);
    return row;
  }

  async reportStatus(ws: Workspace, name: unknown, body: { attempt?: unknown; status?: unknown; pid?: unknown }): Promise<{ cancel_requested: boolean }> {
    const row = await this.#activeRow(ws, name, body.attempt);
    const status = body.status;
    if (status !== 'Preparing' && status !== 'Running' && status !== 'Finalizing') throw invalid(`status must be Preparing, Running or Finalizing (got ${JSON.stringify(status)}); results go to /task/result.`);
    if (status !== row.status) {
      const from: JobStatus[] = status === 'Running' ? ['Preparing'] : status === 'Finalizing' ? ['Preparing', 'Running'] : [];
      if (!(await this.transition(row.name, from, status, {}, row.attempt))) throw new LapisError('CONFLICT', `Job '${row.name}' cannot move from ${row.status} to ${status}.`);
      if (status === 'Running') {
        await this.#d.tracking.runs.update(scopeOf(row.workspace), row.name, { status: 'RUNNING' }).catch(() => undefined);
      }
    }
    await this.heartbeat(row.name);
    return { cancel_requested: row.cancel_requested === 1 };
  }

  async reportLogs(ws: Workspace, name: unknown, body: { attempt?: unknown; stream?: unknown; seq?: unknown; text?: unknown }): Promise<{ cancel_requested: boolean }> {
    const row = await this.#activeRow(ws, name, body.attempt);
    const stream = body.stream;
    if (stream !== 'user' && stream !== 'system' && stream !== 'build') throw invalid(`stream must be user, system or build (got ${JSON.stringify(stream)}).`);
    if (!Number.isSafeInteger(body.seq) || (body.seq as number) < 1) throw invalid('seq must be a positive integer.');
    if (typeof body.text !== 'string') throw invalid('text must be a string.');
    // Seqs are per attempt; offsetting by the attempt keeps a requeued job's chunks distinct.
    await this.#appendLog(row.name, row.attempt * 1_000_000_000 + (body.seq as number), stream, body.text);
    return { cancel_requested: row.cancel_requested === 1 };
  }

  async heartbeat(name: string): Promise<void> {
    this.events.emit(`heartbeat:${name}`);
  }

  async reportHeartbeat(ws: Workspace, name: unknown, body: { attempt?: unknown }): Promise<{ cancel_requested: boolean }> {
    const row = await this.#activeRow(ws, name, body.attempt);
    await this.heartbeat(row.name);
    return { cancel_requested: row.cancel_requested === 1 };
  }

  /** The runner's result: outputs recorded (and registered), logs kept as run artifacts, the run ended. */
  async reportResult(
    ws: Workspace,
    name: unknown,
    body: { attempt?: unknown; status?: unknown; exit_code?: unknown; error?: unknown; outputs?: unknown },
  ): Promise<JobView> {
    const row = await this.#activeRow(ws, name, body.attempt);
    const status = body.status;
    if (status !== 'Completed' && status !== 'Failed' && status !== 'Canceled') throw invalid(`status must be Completed, Failed or Canceled (got ${JSON.stringify(status)}).`);
    const exitCode = body.exit_code === null || body.exit_code === undefined ? null : Number(body.exit_code);
    if (exitCode !== null && !Number.isSafeInteger(exitCode)) throw invalid('exit_code must be an integer or null.');
    const reported = (body.outputs ?? {}) as Record<string, { hash?: unknown }>;
    const spec = JSON.parse(row.spec) as JobSpec;
    const outputs: Record<string, JobOutputView> = {};
    let final: 'Completed' | 'Failed' | 'Canceled' = status;
    let error = typeof body.error === 'string' ? body.error : null;
    for (const [port, out] of Object.entries(spec.outputs ?? {})) {
      const hash = typeof reported[port]?.hash === 'string' ? (reported[port].hash as string) : null;
      const content = hash ? await this.#d.content.find(ws.name, hash) : undefined;
      if (hash && !content) {
        final = 'Failed';
        error = `output '${port}' was reported as ${hash.slice(0, 12)}… but its upload is not committed`;
        continue;
      }
      outputs[port] = { type: out.type, hash: content ? hash : null, files: content?.files.length ?? 0, size: content?.size ?? 0 };
      if (out.path && content && hash) {
        const at = this.#d.datastores.parse(out.path);
        await this.#d.datastores.write(ws.name, at, content.files, async (path) => (await this.#d.content.open(ws.name, hash, path)).stream);
        outputs[port].path = out.path;
        await this.appendServerLog(row.name, `Wrote output '${port}' to ${out.path}.`);
      }
    }
    if (final === 'Completed') {
      const failure = await this.#registerOutputs(ws, row, spec, outputs);
      if (failure) {
        final = 'Failed';
        error = failure;
      }
    }
    await this.finish(row, final, { exit_code: exitCode, error, outputs: JSON.stringify(outputs) });
    return this.get(ws, row.name);
  }

  async #registerOutputs(ws: Workspace, row: Row, spec: JobSpec, outputs: Record<string, JobOutputView>): Promise<string | undefined> {
    for (const [port, out] of Object.entries(spec.outputs ?? {}) as [string, JobOutputSpec][]) {
      if (!out.name) continue;
      const result = outputs[port];
      if (!result?.hash) return `output '${port}' is empty, so it cannot be registered as ${out.name}; write files to \${{outputs.${port}}}`;
      try {
        const assetSpec = { name: out.name, ...(out.version !== undefined ? { version: out.version } : {}), ...(out.description ? { description: out.description } : {}), path: `azureml://jobs/${row.name}/outputs/${port}` };
        if (out.type === 'mlflow_model' || out.type === 'custom_model') {
          const mv = await this.#d.models.create(scopeOf(ws.name), { ...assetSpec, type: out.type }, result.hash, row.created_by, { runId: row.name });
          result.registered = `azureml:${mv.name}:${mv.version}`;
        } else {
          const type = out.type === 'uri_file' ? 'uri_file' : out.type === 'mltable' ? 'mltable' : 'uri_folder';
          const asset = await this.#d.assets.create(ws.name, 'data', { ...assetSpec, type }, result.hash, row.created_by, { job: row.name, run_id: row.name });
          result.registered = asset.reference;
        }
        await this.appendServerLog(row.name, `Registered output '${port}' as ${result.registered}.`);
      } catch (err) {
        if (err instanceof LapisError && err.status < 500) return `registering output '${port}' as ${out.name} failed: ${err.message}`;
        throw err;
      }
    }
    return undefined;
  }

  /**
   * Ends a job once: status, the MLflow run's status, the logs as run artifacts. Used for the
   * runner's result and for failures the controller sees (runner gone, timeout, lost on restart).
   */
  async finish(row: Pick<Row, 'name' | 'workspace' | 'status' | 'attempt'>, status: 'Completed' | 'Failed' | 'Canceled', patch: Partial<JobTable>): Promise<boolean> {
    const from = row.status === 'Queued' ? ['Queued' as const] : ACTIVE_STATUSES;
    if (!(await this.transition(row.name, from, status, { ...patch, lease_owner: null, lease_expires_at: null }))) return false;
    const line = status === 'Completed' ? 'Completed.' : `${status}${patch.error ? `: ${patch.error}` : '.'}`;
    await this.appendServerLog(row.name, line);
    await this.#endRun(row, status);
    await this.#saveLogs(row).catch(() => undefined);
    this.#logBytes.delete(row.name);
    this.events.emit('ended', row.name);
    return true;
  }

  async #endRun(row: Pick<Row, 'name' | 'workspace'>, status: 'Completed' | 'Failed' | 'Canceled'): Promise<void> {
    await this.#d.tracking.runs.update(scopeOf(row.workspace), row.name, { status: RUN_STATUS[status], endTime: now() }).catch(() => undefined);
  }

  /** Azure ML's layout: user_logs/std_log.txt for the command, system_logs/ for Lapis and the environment build. */
  async #saveLogs(row: Pick<Row, 'name' | 'workspace'>): Promise<void> {
    const ws = scopeOf(row.workspace);
    const run = await this.#d.tracking.runs.get(ws, row.name);
    const root = this.#d.tracking.artifacts.proxyPathOf(run.info.artifact_uri);
    if (root === undefined) return;
    const files: Record<string, string[]> = { user: [], system: [], build: [] };
    for (let after = 0; ; ) {
      const { entries } = await this.logs(ws, row.name, after);
      if (entries.length === 0) break;
      for (const e of entries) files[e.stream]?.push(e.text);
      after = (entries[entries.length - 1] as LogEntry).id;
    }
    const targets: [string, string[]][] = [
      ['user_logs/std_log.txt', files.user ?? []],
      ['system_logs/lapis.txt', files.system ?? []],
      ['system_logs/environment_build.txt', files.build ?? []],
    ];
    for (const [path, chunks] of targets) {
      if (chunks.length === 0) continue;
      await this.#d.tracking.artifacts.blobs.put(this.#d.tracking.artifacts.keyOf(ws, `${root}/${path}`), Readable.from([Buffer.from(chunks.join(''))]));
    }
  }

  // ---- for the controller --------------------------------------------------------------------

  async queued(): Promise<Row[]> {
    return this.#d.database.db.selectFrom('jobs').selectAll().where('status', '=', 'Queued').orderBy('created_at').execute();
  }

  async active(): Promise<Row[]> {
    return this.#d.database.db.selectFrom('jobs').selectAll().where('status', 'in', [...ACTIVE_STATUSES]).execute();
  }

  async rowByName(name: string): Promise<Row | undefined> {
    return this.#d.database.db.selectFrom('jobs').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async update(name: string, patch: Partial<JobTable>): Promise<void> {
    await this.#d.database.db.updateTable('jobs').set(patch).where('name', '=', name).execute();
  }

  /** Takes over a job's lease from `from` (null: released); false when someone else moved first. */
  async takeLease(name: string, from: string | null, to: string, expiresAt: number): Promise<boolean> {
    let q = this.#d.database.db.updateTable('jobs').set({ lease_owner: to, lease_expires_at: expiresAt }).where('name', '=', name);
    q = from === null ? q.where('lease_owner', 'is', null) : q.where('lease_owner', '=', from);
    return Number((await q.executeTakeFirst()).numUpdatedRows) === 1;
  }

  async renewLeases(owner: string, expiresAt: number): Promise<void> {
    await this.#d.database.db.updateTable('jobs').set({ lease_expires_at: expiresAt }).where('lease_owner', '=', owner).where('status', 'in', [...ACTIVE_STATUSES]).execute();
  }

  async releaseLeases(owner: string): Promise<void> {
    await this.#d.database.db.updateTable('jobs').set({ lease_owner: null, lease_expires_at: null }).where('lease_owner', '=', owner).execute();
  }

  async purge(workspace: string): Promise<void> {
    const names = (await this.#d.database.db.selectFrom('jobs').select('name').where('workspace', '=', workspace).execute()).map((r) => r.name);
    for (let i = 0; i < names.length; i += 500) await this.#d.database.db.deleteFrom('job_logs').where('job', 'in', names.slice(i, i + 500)).execute();
    await this.#d.database.db.deleteFrom('jobs').where('workspace', '=', workspace).execute();
  }
}

function checkUploads(raw: unknown): Uploads {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid('uploads must be an object {code?: <hash>, inputs?: {<name>: <hash>}}.');
  const u = raw as Record<string, unknown>;
  const out: Uploads = {};
  if (u.code !== undefined) {
    if (typeof u.code !== 'string' || !/^[0-9a-f]{64}$/.test(u.code)) throw invalid('uploads.code must be a content hash (64 hex characters).');
    out.code = u.code;
  }
  if (u.inputs !== undefined) {
    if (typeof u.inputs !== 'object' || u.inputs === null || Array.isArray(u.inputs)) throw invalid('uploads.inputs must map input names to content hashes.');
    out.inputs = {};
    for (const [k, v] of Object.entries(u.inputs)) {
      if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) throw invalid(`uploads.inputs.${k} must be a content hash (64 hex characters).`);
      out.inputs[k] = v;
    }
  }
  return out;
}

/** Azure ML style: `<adjective>_<noun>_<8 base-36 characters>`, e.g. `sharp_kiwi_4k2m1x9p`. */
function generatedName(): string {
  const suffix = Array.from({ length: 8 }, () => '0123456789abcdefghijklmnopqrstuvwxyz'[Math.floor(Math.random() * 36)]).join('');
  return `${randomRunName().split('-').slice(0, 2).join('_')}_${suffix}`;
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

function view(row: Row | JobTable): JobView {
  const spec = JSON.parse(row.spec) as JobSpec;
  const task = JSON.parse(row.task) as TaskBody;
  const times = JSON.parse(row.status_times) as Partial<Record<JobStatus, number>>;
  const started = times.Running ?? null;
  const ended = row.ended_at === null ? null : Number(row.ended_at);
  const outputs: JobView['outputs'] = row.outputs ? (JSON.parse(row.outputs) as Record<string, JobOutputView>) : Object.fromEntries(Object.entries(task.outputs).map(([k, o]) => [k, { type: o.type }]));
  return {
    name: row.name,
    type: 'command',
    display_name: row.display_name,
    experiment_id: String(row.experiment_id),
    status: row.status as JobStatus,
    compute: row.compute,
    slots: Number(row.slots),
    created_at: Number(row.created_at),
    created_by: row.created_by,
    status_times: times,
    started_at: started,
    ended_at: ended,
    duration_ms: started !== null ? (ended ?? now()) - started : null,
    exit_code: row.exit_code === null ? null : Number(row.exit_code),
    error: row.error,
    cancel_requested: row.cancel_requested === 1,
    archived: row.archived === 1,
    tags: spec.tags ?? {},
    run_id: row.name,
    environment: task.environment.name,
    code: task.code?.hash ?? null,
    command: task.command,
    inputs: Object.fromEntries(
      Object.entries(spec.inputs ?? {}).map(([k, v]) => [k, typeof v === 'object' ? { type: v.type, mode: v.mode, path: v.path } : v]),
    ),
    outputs,
    spec: spec as unknown as Record<string, unknown>,
  };
}
