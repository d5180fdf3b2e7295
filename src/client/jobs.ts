import { LapisError } from '../core/errors.js';
import type { LapisClient } from './index.js';
import { filePath, segment as seg } from './paths.js';
import { plural } from './text.js';
import type { ContentFile } from './types.js';

/** Jobs and compute targets over the native API (types mirror the server's JSON). */

export type JobStatus = 'Queued' | 'Preparing' | 'Running' | 'Finalizing' | 'Completed' | 'Failed' | 'Canceled';
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['Completed', 'Failed', 'Canceled'];

/** A batch job's mini-batches: `7/12 mini-batches (1 failed, 10 items failed)`. */
export function progressText(p: NonNullable<Job['progress']>): string {
  const finished = p.mini_batches_succeeded + p.mini_batches_failed;
  return `${finished}/${p.mini_batches_total} mini-batches finished (${p.mini_batches_failed} failed, ${plural(p.items_failed, 'item')} failed)`;
}

/** Where a batch job's predictions are, once written; a failed job's hold what succeeded before it stopped. */
export function predictionsText(j: Job): string | undefined {
  const file = j.tags['lapis.batch_output_file'];
  const rows = j.progress?.rows_written;
  if (!file || rows === undefined || !j.progress) return undefined;
  const partial = j.status === 'Failed' ? `; partial: the ${j.progress.mini_batches_succeeded} mini-batch(es) that succeeded` : '';
  return `${file} in output score (${plural(rows, 'row')}${partial})`;
}

export interface JobOutput {
  type: string;
  hash?: string | null;
  files?: number;
  size?: number;
  registered?: string;
  /** The datastore path it was also written to. */
  path?: string;
}

export interface Job {
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
  outputs: Record<string, JobOutput>;
  spec: Record<string, unknown>;
  /** A batch endpoint's job: its mini-batches so far. */
  progress?: { mini_batches_total: number; mini_batches_succeeded: number; mini_batches_failed: number; items_failed: number; rows_written?: number };
}

export interface JobLogEntry {
  id: number;
  stream: 'user' | 'system' | 'build';
  text: string;
  ts: number;
}

export type JobEvent = { type: 'log'; entry: JobLogEntry } | { type: 'end'; status: JobStatus; exit_code: number | null; error: string | null };

export interface ComputeTarget {
  name: string;
  type: string;
  max_instances: number;
  description?: string;
  tags: Record<string, string>;
  spec: Record<string, unknown>;
  created_at: number;
  created_by: string;
  built_in: boolean;
  running?: number;
  queued?: number;
  jobs?: { name: string; status: JobStatus; slots: number }[];
}

export class JobsApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  /** Submits a command job; local paths in the spec must be uploaded first (`uploads`: their content hashes). */
  async create(spec: Record<string, unknown>, opts: { uploads?: { code?: string; inputs?: Record<string, string> }; experimentName?: string } = {}): Promise<Job> {
    return this.#c.request('POST', '/api/v1/jobs', {
      body: { spec, ...(opts.uploads ? { uploads: opts.uploads } : {}), ...(opts.experimentName ? { experiment_name: opts.experimentName } : {}) },
    });
  }

  async list(opts: { status?: string; includeArchived?: boolean; maxResults?: number } = {}): Promise<Job[]> {
    const res = await this.#c.request<{ jobs: Job[] }>('GET', '/api/v1/jobs', {
      query: { status: opts.status, include_archived: opts.includeArchived ? 'true' : undefined, max_results: opts.maxResults },
    });
    return res.jobs;
  }

  async get(name: string): Promise<Job> {
    return this.#c.request('GET', `/api/v1/jobs/${seg('job name', name)}`);
  }

  async cancel(name: string): Promise<Job> {
    return this.#c.request('POST', `/api/v1/jobs/${seg('job name', name)}/cancel`, { body: {} });
  }

  async archive(name: string): Promise<Job> {
    return this.#c.request('POST', `/api/v1/jobs/${seg('job name', name)}/archive`, { body: {} });
  }

  async restore(name: string): Promise<Job> {
    return this.#c.request('POST', `/api/v1/jobs/${seg('job name', name)}/restore`, { body: {} });
  }

  /** Log lines after `after` (a log id), at most a few thousand; `next` is the id to continue from. */
  async logs(name: string, after = 0): Promise<{ entries: JobLogEntry[]; status: JobStatus; next: number }> {
    return this.#c.request('GET', `/api/v1/jobs/${seg('job name', name)}/logs`, { query: { after } });
  }

  /** The live log: every line from `after` on as it is written, then the job's end (a server-sent-event stream). */
  async *follow(name: string, opts: { after?: number; signal?: AbortSignal } = {}): AsyncGenerator<JobEvent> {
    const res = await this.#c.send('GET', `/api/v1/jobs/${seg('job name', name)}/logs`, {
      query: { after: opts.after ?? 0, follow: 'true' },
      headers: { accept: 'text/event-stream' },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    // A reader, not `for await`: browsers without async-iterable streams run this too (the studio).
    const reader = res.body.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      buffer += decoder.decode(chunk.value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        if (event === 'log') yield { type: 'log', entry: JSON.parse(data) as JobLogEntry };
        else if (event === 'end') yield { type: 'end', ...(JSON.parse(data) as { status: JobStatus; exit_code: number | null; error: string | null }) };
        else if (event === 'error') throw new LapisError('UNAVAILABLE', `The log stream failed: ${(JSON.parse(data) as { message: string }).message}`);
      }
    }
  }

  async outputFiles(name: string, output: string): Promise<{ hash: string | null; files: ContentFile[] }> {
    return this.#c.request('GET', `/api/v1/jobs/${seg('job name', name)}/outputs/${seg('output name', output)}/files`);
  }

  async openOutputFile(name: string, output: string, path: string, opts: { signal?: AbortSignal } = {}): Promise<Response> {
    return this.#c.send('GET', `/api/v1/jobs/${seg('job name', name)}/outputs/${seg('output name', output)}/files/${filePath(path)}`, opts.signal ? { signal: opts.signal } : {});
  }
}

export class ComputesApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  async create(spec: Record<string, unknown>): Promise<ComputeTarget> {
    return this.#c.request('POST', '/api/v1/computes', { body: { spec } });
  }

  async list(): Promise<ComputeTarget[]> {
    return (await this.#c.request<{ computes: ComputeTarget[] }>('GET', '/api/v1/computes')).computes;
  }

  async get(name: string): Promise<ComputeTarget> {
    return this.#c.request('GET', `/api/v1/computes/${seg('compute name', name)}`);
  }

  async delete(name: string): Promise<void> {
    await this.#c.request('DELETE', `/api/v1/computes/${seg('compute name', name)}`);
  }
}
