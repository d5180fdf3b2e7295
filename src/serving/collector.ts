/**
 * The data collector of online deployments (`data_collector` in the deployment YAML): a sampled
 * share of scoring requests is recorded — the HTTP payloads (`request`, `response`) and the rows
 * scored with their predictions (`model_inputs`, `model_outputs`) — as JSON lines in a datastore,
 * one folder per rolling window, every record of one request sharing its correlation id.
 *
 * The scoring path only appends to memory; a timer writes each collection's pending lines as one
 * new file, so a request never waits for storage and object stores without append (S3) work alike.
 * When storage falls behind, records beyond a memory bound are dropped and counted, never queued
 * without end.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { invalid } from '../core/errors.js';
import { DEFAULT_DATASTORE, type DatastorePath, type DatastoreService } from '../datastores/service.js';
import { DATA_COLLECTIONS, type OnlineDeploymentSpec } from '../specs/index.js';
import { inputRows, outputRows } from './collected-rows.js';

export type Collection = (typeof DATA_COLLECTIONS)[number];
type Rolling = 'minute' | 'hour' | 'day';

/** A deployment's collection settings, resolved from its spec. */
export interface CollectorConfig {
  samplingRate: number;
  rolling: Rolling;
  /** The enabled collections and the datastore folder of each. */
  collections: Map<Collection, DatastorePath>;
}

export interface CollectorStatus {
  sampling_rate: number;
  rolling_rate: Rolling;
  collections: Record<string, string>;
  /** Records written to storage, per collection. */
  records: Record<string, number>;
  /** Records lost: storage failed, or fell behind by more than the memory bound. */
  dropped: number;
  last_write: number | null;
  last_error: string | null;
}

/** One scoring request as seen by the router. */
export interface Exchange {
  workspace: string;
  endpoint: string;
  deployment: string;
  correlationId: string;
  request: { body: Buffer; contentType: string };
  response: { status: number; body: Buffer; contentType: string } | undefined;
}

const FLUSH_MS = 2_000;
/** A payload larger than this is recorded without its data (the record says so). */
const MAX_PAYLOAD_BYTES = 1 << 20;
/** Pending bytes across all deployments beyond which new records are dropped. */
const MAX_PENDING_BYTES = 64 << 20;

const truthy = (v: boolean | string | undefined): boolean => v === true || v === 'True' || v === 'true';

/** The deployment's collector settings, or undefined when it collects nothing. Paths are checked here, at create time. */
export function collectorConfig(spec: OnlineDeploymentSpec, datastores: Pick<DatastoreService, 'parse'>): CollectorConfig | undefined {
  const dc = spec.data_collector;
  if (!dc) return undefined;
  const collections = new Map<Collection, DatastorePath>();
  for (const name of DATA_COLLECTIONS) {
    const c = dc.collections?.[name];
    if (!c || !truthy(c.enabled ?? true)) continue;
    const uri = c.data?.path ?? `azureml://datastores/${DEFAULT_DATASTORE}/paths/modelDataCollector/${spec.endpoint_name}/${spec.name}/${name}`;
    try {
      collections.set(name, datastores.parse(uri));
    } catch (err) {
      throw invalid(`data_collector.collections.${name}.data.path: ${(err as Error).message}`);
    }
  }
  if (collections.size === 0) return undefined;
  return { samplingRate: dc.sampling_rate ?? 1, rolling: (dc.rolling_rate ?? 'hour').toLowerCase() as Rolling, collections };
}

interface Pending {
  workspace: string;
  /** `<endpoint>/<deployment>`. */
  deployment: string;
  collection: Collection;
  at: DatastorePath;
  lines: string[];
  bytes: number;
}

interface Tally {
  config: CollectorConfig;
  records: Record<string, number>;
  dropped: number;
  lastWrite: number | null;
  lastError: string | null;
}

export class DataCollector {
  readonly #datastores: Pick<DatastoreService, 'put'>;
  readonly #onError: (err: unknown, where: string) => void;
  /** Pending lines per datastore folder (collection and window). */
  readonly #pending = new Map<string, Pending>();
  readonly #tallies = new Map<string, Tally>();
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(datastores: Pick<DatastoreService, 'put'>, onError: (err: unknown, where: string) => void) {
    this.#datastores = datastores;
    this.#onError = onError;
  }

  /** Whether this request is one of the sampled ones. */
  sampled(config: CollectorConfig): boolean {
    return config.samplingRate >= 1 || Math.random() < config.samplingRate;
  }

  /** Records one sampled exchange under every enabled collection. Synchronous: the answer does not wait. */
  record(config: CollectorConfig, x: Exchange): void {
    const tally = this.#tally(`${x.endpoint}/${x.deployment}`, config);
    const time = Date.now();
    const base = { correlation_id: x.correlationId, time: new Date(time).toISOString(), endpoint: x.endpoint, deployment: x.deployment };
    let request: unknown;
    let response: unknown;
    for (const [collection, at] of config.collections) {
      let data: Record<string, unknown> | undefined;
      if (collection === 'request') data = payload(x.request.body, x.request.contentType);
      else if (collection === 'response') data = x.response ? { status: x.response.status, ...payload(x.response.body, x.response.contentType) } : undefined;
      else if (x.response?.status === 200) {
        // Rows are only recorded for answered requests: a refused body has no predictions to pair with.
        request ??= parseJson(x.request.body);
        response ??= parseJson(x.response.body);
        const rows = collection === 'model_inputs' ? inputRows(request) : outputRows(response);
        data = rows ? { data: rows } : undefined;
      }
      if (!data) continue;
      const line = `${JSON.stringify({ id: randomUUID(), collection, ...base, ...data })}\n`;
      if (this.#pendingBytes + line.length > MAX_PENDING_BYTES) {
        tally.dropped += 1;
        continue;
      }
      const folder = { datastore: at.datastore, path: `${at.path}/${windowPath(time, config.rolling)}` };
      const key = `${x.workspace}\0${folder.datastore}\0${folder.path}\0${collection}\0${x.endpoint}/${x.deployment}`;
      let p = this.#pending.get(key);
      if (!p) this.#pending.set(key, (p = { workspace: x.workspace, deployment: `${x.endpoint}/${x.deployment}`, collection, at: folder, lines: [], bytes: 0 }));
      p.lines.push(line);
      p.bytes += line.length;
      this.#pendingBytes += line.length;
    }
    this.#timer ??= setTimeout(() => void this.flush(), FLUSH_MS).unref();
  }

  /** Writes every pending line: one new file per collection folder. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = [...this.#pending.values()];
    this.#pending.clear();
    this.#flushing = this.#flushing.then(() => Promise.all(batch.map((p) => this.#write(p))).then(() => undefined));
    return this.#flushing;
  }

  async #write(p: Pending): Promise<void> {
    const { collection } = p;
    const tally = this.#tallies.get(p.deployment);
    const file = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}.jsonl`;
    try {
      await this.#datastores.put(p.workspace, { datastore: p.at.datastore, path: `${p.at.path}/${file}` }, Buffer.from(p.lines.join('')));
      if (tally) {
        tally.records[collection] = (tally.records[collection] ?? 0) + p.lines.length;
        tally.lastWrite = Date.now();
        tally.lastError = null;
      }
    } catch (err) {
      if (tally) {
        tally.dropped += p.lines.length;
        tally.lastError = (err as Error).message;
      }
      this.#onError(err, `azureml://datastores/${p.at.datastore}/paths/${p.at.path}`);
    } finally {
      this.#pendingBytes -= p.bytes;
    }
  }

  #tally(deployment: string, config: CollectorConfig): Tally {
    let t = this.#tallies.get(deployment);
    if (!t) this.#tallies.set(deployment, (t = { config, records: {}, dropped: 0, lastWrite: null, lastError: null }));
    t.config = config;
    return t;
  }

  /** What `online-deployment show` reports: the settings, and what was written so far by this server. */
  status(endpoint: string, deployment: string, config: CollectorConfig): CollectorStatus {
    const t = this.#tallies.get(`${endpoint}/${deployment}`);
    return {
      sampling_rate: config.samplingRate,
      rolling_rate: config.rolling,
      collections: Object.fromEntries([...config.collections].map(([c, at]) => [c, `azureml://datastores/${at.datastore}/paths/${at.path}`])),
      records: t?.records ?? {},
      dropped: t?.dropped ?? 0,
      last_write: t?.lastWrite ?? null,
      last_error: t?.lastError ?? null,
    };
  }

  forget(endpoint: string, deployment?: string): void {
    for (const key of this.#tallies.keys()) if (deployment ? key === `${endpoint}/${deployment}` : key.startsWith(`${endpoint}/`)) this.#tallies.delete(key);
  }
}

/** `2026/11/26/13` for an hourly window (UTC), as Azure ML lays collected data out. */
export function windowPath(time: number, rolling: Rolling): string {
  const iso = new Date(time).toISOString();
  const parts = [iso.slice(0, 4), iso.slice(5, 7), iso.slice(8, 10)];
  if (rolling !== 'day') parts.push(iso.slice(11, 13));
  if (rolling === 'minute') parts.push(iso.slice(14, 16));
  return parts.join('/');
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A payload as a record's fields: JSON as it is, text as a string, anything else in base64. */
function payload(body: Buffer, contentType: string): Record<string, unknown> {
  if (body.length > MAX_PAYLOAD_BYTES) return { content_type: contentType, bytes: body.length, data_omitted: `the payload of ${body.length} bytes exceeds the collector's ${MAX_PAYLOAD_BYTES} bytes` };
  if (/json/i.test(contentType)) {
    const parsed = parseJson(body);
    if (parsed !== undefined) return { content_type: contentType, data: parsed };
  }
  const text = body.toString('utf8');
  return Buffer.from(text, 'utf8').equals(body) ? { content_type: contentType, data: text } : { content_type: contentType, data_base64: body.toString('base64') };
}
