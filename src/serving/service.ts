/**
 * Online endpoints and deployments: their records, keys and traffic, and bringing a deployment's
 * instances up — model files, code snapshot and environment materialized on this machine, then the
 * scoring hosts started by the runtime. Endpoint names are unique on the server (they are URLs).
 */
import { spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { Selectable } from 'kysely';
import type { SecretBox } from '../auth/secrets.js';
import { now } from '../core/clock.js';
import { alreadyExists, invalid, notFound } from '../core/errors.js';
import { environmentOf, mlflowModelEnvironment, type TaskEnvironment } from '../compute/environments.js';
import { specErrors, type AssetService } from '../registry/assets.js';
import type { ContentStore } from '../registry/content.js';
import { scopeOf, type ModelAssets } from '../registry/model-assets.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import { parseAssetRef, type OnlineDeploymentSpec, type OnlineEndpointSpec } from '../specs/index.js';
import { trafficIssues } from '../specs/checks.js';
import type { Database } from '../store/db.js';
import type { DeploymentTable, EndpointTable } from '../store/schema.js';
import { parseMlModel } from '../registry/mlmodel.js';
import type { InstanceView } from './instance.js';
import { readFrom, tailLines } from '../compute/tail.js';
import { workerCount } from './instance.js';
import { probeSettings, type Probes } from './probes.js';
import { onnxDeployment, onnxInstanceSpec } from './onnx-deployment.js';
import { Runtimes, type DeploymentSpec, type RuntimeKind } from './runtimes.js';
import { ServingStats, type DeploymentMetrics } from './stats.js';
import { collectorConfig, DataCollector, type CollectorConfig, type CollectorStatus } from './collector.js';
import type { DatastoreService } from '../datastores/service.js';

const ENV_CLI = fileURLToPath(new URL('../../python/lapis_task/envcli.py', import.meta.url));

export type DeploymentState = 'Creating' | 'Updating' | 'Succeeded' | 'Failed';

interface RuntimeSpec {
  /** Absent in deployments stored before the ONNX runtime: python. */
  kind?: RuntimeKind;
  model: { scope: string; name: string; version: string; type: string | null };
  code: { hash: string; scoring_script: string } | null;
  environment: TaskEnvironment | null;
}

export interface DeploymentView {
  name: string;
  endpoint_name: string;
  state: DeploymentState;
  error: string | null;
  model: string;
  environment: string;
  instance_count: number;
  request_settings: { request_timeout_ms: number; max_concurrent_requests_per_instance: number };
  /** The probes in effect (Azure ML's defaults where the YAML is silent); the ONNX runtime runs in the server's process and is not probed. */
  probes: Probes;
  /** python: scoring processes; onnx: ONNX Runtime worker threads inside the server. */
  runtime: RuntimeKind;
  instances: InstanceView[];
  traffic: number;
  mirror_traffic: number;
  metrics: DeploymentMetrics;
  /** Null when the deployment collects nothing. */
  data_collector: CollectorStatus | null;
  created_at: number;
  created_by: string;
  updated_at: number;
  spec: Record<string, unknown>;
}

export interface EndpointView {
  name: string;
  auth_mode: string;
  scoring_uri: string;
  traffic: Record<string, number>;
  mirror_traffic: Record<string, number>;
  description?: string;
  tags: Record<string, string>;
  deployments: DeploymentView[];
  created_at: number;
  created_by: string;
}

/** What the router needs of an endpoint, cached in memory: read on every request. */
export interface RoutingEntry {
  workspace: string;
  authMode: string;
  keys: [string, string];
  traffic: [string, number][];
  /** The deployment requests are copied to, and the share copied. */
  mirror: [string, number] | undefined;
  deployments: Map<string, { timeoutMs: number; collect: CollectorConfig | undefined }>;
}

export interface ServingDeps {
  database: Database;
  secrets: SecretBox;
  assets: AssetService;
  models: ModelAssets;
  registry: ModelRegistry;
  content: ContentStore;
  datastores: DatastoreService;
  dataDir: string;
  cacheDir: string;
  python: string;
  log: { error(obj: object, msg: string): void };
}

const newKey = (): string => randomBytes(32).toString('base64url');

export class ServingService {
  readonly runtime = new Runtimes();
  readonly stats = new ServingStats();
  readonly collector: DataCollector;
  readonly #d: ServingDeps;
  readonly #routes = new Map<string, RoutingEntry>();
  #baseUrl = 'http://127.0.0.1:5050';

  constructor(deps: ServingDeps) {
    this.#d = deps;
    this.collector = new DataCollector(deps.datastores, (err, where) => deps.log.error({ err }, `data collector: writing to ${where} failed`));
  }

  // ---- endpoints ----------------------------------------------------------------------------

  async createEndpoint(workspace: string, rawSpec: unknown, createdBy: string): Promise<EndpointView> {
    specErrors('online-endpoint', rawSpec);
    const spec = rawSpec as OnlineEndpointSpec;
    if (spec.traffic && Object.keys(spec.traffic).length > 0) throw invalid(`Traffic cannot be set when an endpoint is created (it has no deployments yet): deploy, then 'lapis online-endpoint update --name ${spec.name} --traffic "blue=100"', or create the deployment with --all-traffic.`);
    if (spec.mirror_traffic && Object.keys(spec.mirror_traffic).length > 0) throw invalid(`mirror_traffic cannot be set at creation either: deploy, then 'lapis online-endpoint update --name ${spec.name} --mirror-traffic "green=10"'.`);
    if (await this.#endpointRow(spec.name).catch(() => undefined)) throw alreadyExists(`An endpoint named '${spec.name}' already exists on this server; endpoint names are unique (they are URLs). Choose another name.`);
    const t = now();
    const row: EndpointTable = {
      name: spec.name,
      workspace,
      auth_mode: spec.auth_mode ?? 'key',
      spec: JSON.stringify(spec),
      keys: this.#d.secrets.seal(JSON.stringify([newKey(), newKey()])),
      traffic: '{}',
      mirror_traffic: '{}',
      created_at: t,
      created_by: createdBy,
      updated_at: t,
    };
    try {
      await this.#d.database.db.insertInto('endpoints').values(row).execute();
    } catch (err) {
      if (isUnique(err)) throw alreadyExists(`An endpoint named '${spec.name}' already exists on this server.`);
      throw err;
    }
    await this.#refresh(spec.name);
    return this.getEndpoint(workspace, spec.name);
  }

  async #endpointRow(name: string, workspace?: string): Promise<Selectable<EndpointTable>> {
    let q = this.#d.database.db.selectFrom('endpoints').selectAll().where('name', '=', name);
    if (workspace !== undefined) q = q.where('workspace', '=', workspace);
    const row = await q.executeTakeFirst();
    if (!row) throw notFound(`No online endpoint '${name}'${workspace ? ` in workspace '${workspace}'` : ''}. List them with 'lapis online-endpoint list'.`);
    return row;
  }

  async getEndpoint(workspace: string, name: string): Promise<EndpointView> {
    const row = await this.#endpointRow(name, workspace);
    const spec = JSON.parse(row.spec) as OnlineEndpointSpec;
    const traffic = JSON.parse(row.traffic) as Record<string, number>;
    const deployments = await this.listDeployments(workspace, name);
    return {
      name: row.name,
      auth_mode: row.auth_mode,
      scoring_uri: `${this.#baseUrl}/endpoints/${row.name}/score`,
      traffic,
      mirror_traffic: JSON.parse(row.mirror_traffic) as Record<string, number>,
      ...(spec.description ? { description: spec.description } : {}),
      tags: spec.tags ?? {},
      deployments,
      created_at: Number(row.created_at),
      created_by: row.created_by,
    };
  }

  async listEndpoints(workspace: string): Promise<EndpointView[]> {
    const rows = await this.#d.database.db.selectFrom('endpoints').select('name').where('workspace', '=', workspace).orderBy('name').execute();
    return Promise.all(rows.map((r) => this.getEndpoint(workspace, r.name)));
  }

  /**
   * Live traffic (percentages adding up to 100 or 0) and mirrored traffic (Azure ML's rules: one
   * deployment at most, at most 50%, never one that takes live traffic).
   */
  async updateEndpoint(workspace: string, name: string, patch: { traffic?: unknown; mirror_traffic?: unknown }): Promise<EndpointView> {
    const row = await this.#endpointRow(name, workspace);
    const deployments = new Map((await this.#deploymentRows(name)).map((d) => [d.name, d]));
    const known = (field: string, dep: string, pct: number): void => {
      const d = deployments.get(dep);
      if (!d) throw invalid(`${field} names deployment '${dep}', which endpoint '${name}' does not have (it has: ${[...deployments.keys()].join(', ') || 'none'}).`);
      if (pct > 0 && d.state !== 'Succeeded') throw invalid(`Deployment '${dep}' is ${d.state}; only a Succeeded deployment can take traffic.`);
    };
    const traffic = patch.traffic === undefined ? (JSON.parse(row.traffic) as Record<string, number>) : checkTraffic(patch.traffic);
    const mirror = patch.mirror_traffic === undefined ? (JSON.parse(row.mirror_traffic) as Record<string, number>) : checkMirror(patch.mirror_traffic);
    for (const [dep, pct] of Object.entries(traffic)) known('Traffic', dep, pct);
    for (const [dep, pct] of Object.entries(mirror)) {
      known('Mirror traffic', dep, pct);
      if (pct > 0 && (traffic[dep] ?? 0) > 0) throw invalid(`Deployment '${dep}' takes live traffic, so it cannot also be the mirror: a deployment is live or mirrored, never both.`);
    }
    const full = Object.fromEntries([...deployments.keys()].map((d) => [d, traffic[d] ?? 0]));
    const mirrored = Object.fromEntries(Object.entries(mirror).filter(([, pct]) => pct > 0));
    await this.#d.database.db.updateTable('endpoints').set({ traffic: JSON.stringify(full), mirror_traffic: JSON.stringify(mirrored), updated_at: now() }).where('name', '=', row.name).execute();
    await this.#refresh(name);
    return this.getEndpoint(workspace, name);
  }

  async deleteEndpoint(workspace: string, name: string): Promise<void> {
    const row = await this.#endpointRow(name, workspace);
    for (const d of await this.#deploymentRows(row.name)) await this.runtime.stop(`${row.name}/${d.name}`);
    await this.#d.database.db.deleteFrom('deployments').where('endpoint', '=', row.name).execute();
    await this.#d.database.db.deleteFrom('endpoints').where('name', '=', row.name).execute();
    this.#routes.delete(row.name);
    this.stats.forget(row.name);
    this.collector.forget(row.name);
  }

  async keys(workspace: string, name: string): Promise<{ primaryKey: string; secondaryKey: string }> {
    const row = await this.#endpointRow(name, workspace);
    if (row.auth_mode !== 'key') throw invalid(`Endpoint '${name}' uses auth_mode ${row.auth_mode}: call it with a Lapis token (lapis token create), not a key.`);
    const [primaryKey, secondaryKey] = JSON.parse(this.#d.secrets.open(row.keys)) as [string, string];
    return { primaryKey, secondaryKey };
  }

  async regenerateKey(workspace: string, name: string, which: unknown): Promise<{ primaryKey: string; secondaryKey: string }> {
    if (which !== 'primary' && which !== 'secondary') throw invalid(`key_type must be primary or secondary (got ${JSON.stringify(which)}).`);
    const current = await this.keys(workspace, name);
    const next: [string, string] = which === 'primary' ? [newKey(), current.secondaryKey] : [current.primaryKey, newKey()];
    await this.#d.database.db.updateTable('endpoints').set({ keys: this.#d.secrets.seal(JSON.stringify(next)), updated_at: now() }).where('name', '=', name).execute();
    await this.#refresh(name);
    return { primaryKey: next[0], secondaryKey: next[1] };
  }

  // ---- deployments --------------------------------------------------------------------------

  async #deploymentRows(endpoint: string): Promise<Selectable<DeploymentTable>[]> {
    return this.#d.database.db.selectFrom('deployments').selectAll().where('endpoint', '=', endpoint).orderBy('created_at').execute();
  }

  async #deploymentRow(workspace: string, endpoint: string, name: string): Promise<Selectable<DeploymentTable>> {
    await this.#endpointRow(endpoint, workspace);
    const row = await this.#d.database.db.selectFrom('deployments').selectAll().where('endpoint', '=', endpoint).where('name', '=', name).executeTakeFirst();
    if (!row) throw notFound(`Endpoint '${endpoint}' has no deployment '${name}'. List them with 'lapis online-deployment list --endpoint-name ${endpoint}'.`);
    return row;
  }

  async createDeployment(workspace: string, rawSpec: unknown, upload: { code?: string }, createdBy: string, opts: { allTraffic?: boolean } = {}): Promise<DeploymentView> {
    specErrors('online-deployment', rawSpec);
    const spec = rawSpec as OnlineDeploymentSpec;
    await this.#endpointRow(spec.endpoint_name, workspace);
    const exists = await this.#d.database.db.selectFrom('deployments').select('name').where('endpoint', '=', spec.endpoint_name).where('name', '=', spec.name).executeTakeFirst();
    if (exists) throw alreadyExists(`Endpoint '${spec.endpoint_name}' already has a deployment '${spec.name}'. Delete it first, or choose another name (e.g. green).`);
    const runtime = await this.#resolve(workspace, spec, upload);
    const t = now();
    const row: DeploymentTable = {
      endpoint: spec.endpoint_name,
      name: spec.name,
      workspace,
      spec: JSON.stringify(spec),
      runtime: JSON.stringify(runtime),
      state: 'Creating',
      error: null,
      created_at: t,
      created_by: createdBy,
      updated_at: t,
    };
    await this.#d.database.db.insertInto('deployments').values(row).execute();
    void this.#bringUp(row, opts.allTraffic === true);
    return this.getDeployment(workspace, spec.endpoint_name, spec.name);
  }

  /** Every reference resolved before anything is created: the model version, the code upload, the environment. */
  async #resolve(workspace: string, spec: OnlineDeploymentSpec, upload: { code?: string }): Promise<RuntimeSpec> {
    this.#collecting(spec); // a bad data_collector path is refused before anything is resolved
    workerCount(spec.environment_variables); // a bad WORKER_COUNT too
    const ref = parseAssetRef(spec.model, 'models');
    const scope = ref.registry ? `registry/${ref.registry}` : workspace;
    const version = await this.#d.models.resolveVersion(scopeOf(scope), ref.name, ref.version ?? 'latest');
    const mv = await this.#d.registry.getVersion(scopeOf(scope), ref.name, version);
    const files = await this.#d.models.files(scopeOf(scope), ref.name, version);
    const isMlflow = files.some((f) => f.path === 'MLmodel');
    let code: RuntimeSpec['code'] = null;
    if (spec.code_configuration) {
      if (!upload.code) throw invalid(`code_configuration.code '${spec.code_configuration.code}' was not uploaded; create the deployment with the CLI, which uploads it.`);
      const content = await this.#d.content.find(workspace, upload.code);
      if (!content) throw invalid(`The code upload ${upload.code.slice(0, 12)}… is not stored in workspace '${workspace}'; upload it again.`);
      const script = spec.code_configuration.scoring_script.replace(/^\.\//, '');
      if (!content.files.some((f) => f.path === script)) throw invalid(`The scoring script '${script}' is not in code '${spec.code_configuration.code}' (files: ${content.files.slice(0, 10).map((f) => f.path).join(', ')}).`);
      code = { hash: upload.code, scoring_script: script };
    } else if (!isMlflow) {
      throw invalid(`Model ${ref.name}:${version} is not an MLflow model (no MLmodel file), so it needs a scoring script: add code_configuration {code, scoring_script}.`);
    } else {
      const mlmodel = parseMlModel((await this.#d.models.text(scopeOf(scope), ref.name, version, 'MLmodel')) ?? '', `${ref.name}:${version}`);
      if (onnxDeployment(mlmodel, spec, `${ref.name}:${version}`)) return { kind: 'onnx', model: { scope, name: ref.name, version, type: mv.model_type ?? null }, code: null, environment: null };
    }
    if (code && spec.environment === undefined) throw invalid('A deployment with a scoring script needs an environment (Azure ML requires one too): add environment: azureml:<name>@latest, or an inline one.');
    const environment = spec.environment === undefined ? null : await environmentOf(workspace, spec.environment, this.#d.assets);
    return { model: { scope, name: ref.name, version, type: mv.model_type ?? null }, code, environment };
  }

  /** What the instances of a deployment run, materialized on this machine (model, code, environment). */
  async #instanceSpec(row: Pick<DeploymentTable, 'endpoint' | 'name' | 'workspace' | 'spec' | 'runtime'>): Promise<DeploymentSpec> {
    const spec = JSON.parse(row.spec) as OnlineDeploymentSpec;
    const runtime = JSON.parse(row.runtime) as RuntimeSpec;
    const logDir = join(this.#d.dataDir, 'serving', row.endpoint, row.name);
    await mkdir(logDir, { recursive: true });
    const modelDir = await this.#modelDir(runtime.model);
    const key = `${row.endpoint}/${row.name}`;
    const { max_concurrent_requests_per_instance: maxConcurrent } = requestSettings(spec);
    if (runtime.kind === 'onnx') return { kind: 'onnx', ...(await onnxInstanceSpec(key, modelDir, spec, maxConcurrent, logDir)) };
    const codeDir = runtime.code ? await this.#codeDir(row.workspace, runtime.code.hash) : undefined;
    const environment = runtime.environment ?? (await requirementsEnvironment(modelDir));
    const python = await this.#python(environment, join(logDir, 'environment_build.log'));
    return {
      kind: 'python',
      key,
      python,
      modelDir,
      ...(codeDir ? { codeDir, scoringScript: join(codeDir, ...(runtime.code as { scoring_script: string }).scoring_script.split('/')) } : {}),
      env: spec.environment_variables ?? {},
      instanceCount: spec.instance_count ?? 1,
      workersPerInstance: workerCount(spec.environment_variables),
      maxConcurrent,
      probes: probeSettings(spec),
      logDir,
    };
  }

  /** Materializes and starts the instances; the deployment ends Succeeded or Failed (with why). */
  async #bringUp(row: DeploymentTable | Selectable<DeploymentTable>, allTraffic: boolean): Promise<void> {
    try {
      await this.runtime.start(await this.#instanceSpec(row));
      await this.#setState(row, 'Succeeded', null);
      if (allTraffic) {
        const deployments = await this.#deploymentRows(row.endpoint);
        await this.#d.database.db
          .updateTable('endpoints')
          .set({ traffic: JSON.stringify(Object.fromEntries(deployments.map((d) => [d.name, d.name === row.name ? 100 : 0]))), updated_at: now() })
          .where('name', '=', row.endpoint)
          .execute();
      }
    } catch (err) {
      await this.#setState(row, 'Failed', (err as Error).message).catch((e: unknown) => this.#d.log.error({ err: e }, 'recording a deployment failure failed'));
    }
    await this.#refresh(row.endpoint).catch(() => undefined);
  }

  /**
   * A new version of a deployment (another model version, instance count, code, environment…)
   * rolled out without a failed request: the new instances must be ready before the old ones
   * drain. If the new ones fail, the old ones keep serving and the error says why.
   */
  async updateDeployment(workspace: string, rawSpec: unknown, upload: { code?: string }): Promise<DeploymentView> {
    specErrors('online-deployment', rawSpec);
    const spec = rawSpec as OnlineDeploymentSpec;
    const row = await this.#deploymentRow(workspace, spec.endpoint_name, spec.name);
    if (row.state === 'Creating' || row.state === 'Updating') throw invalid(`Deployment '${spec.name}' is ${row.state}; wait until it has finished (lapis online-deployment show).`);
    const runtime = await this.#resolve(workspace, spec, upload);
    const next = { ...row, spec: JSON.stringify(spec), runtime: JSON.stringify(runtime) };
    await this.#setState(row, 'Updating', null);
    void (async () => {
      try {
        await this.runtime.replace(await this.#instanceSpec(next));
        await this.#d.database.db.updateTable('deployments').set({ spec: next.spec, runtime: next.runtime, state: 'Succeeded', error: null, updated_at: now() }).where('endpoint', '=', row.endpoint).where('name', '=', row.name).execute();
      } catch (err) {
        const serving = this.runtime.has(`${row.endpoint}/${row.name}`);
        await this.#setState(row, serving ? 'Succeeded' : 'Failed', `${serving ? 'the update failed; the previous version keeps serving: ' : ''}${(err as Error).message}`);
      }
      await this.#refresh(row.endpoint).catch(() => undefined);
    })();
    return this.getDeployment(workspace, spec.endpoint_name, spec.name);
  }

  async #setState(row: Pick<DeploymentTable, 'endpoint' | 'name'>, state: DeploymentState, error: string | null): Promise<void> {
    await this.#d.database.db.updateTable('deployments').set({ state, error, updated_at: now() }).where('endpoint', '=', row.endpoint).where('name', '=', row.name).execute();
  }

  /** Model files, once per version on this machine (versions are immutable). */
  async #modelDir(model: RuntimeSpec['model']): Promise<string> {
    const dir = join(this.#d.cacheDir, 'models', model.scope.replace('/', '_'), model.name, model.version);
    if (existsSync(dir)) return dir;
    const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      for (const f of await this.#d.models.files(scopeOf(model.scope), model.name, model.version)) {
        const target = join(tmp, ...f.path.split('/'));
        await mkdir(dirname(target), { recursive: true });
        await pipeline((await this.#d.models.open(scopeOf(model.scope), model.name, model.version, f.path)).stream, createWriteStream(target));
      }
      await mkdir(dirname(dir), { recursive: true });
      await rename(tmp, dir).catch(async (err: unknown) => {
        if (!existsSync(dir)) throw err;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return dir;
  }

  async #codeDir(workspace: string, hash: string): Promise<string> {
    const dir = join(this.#d.cacheDir, 'code', hash);
    if (existsSync(dir)) return dir;
    const content = await this.#d.content.find(workspace, hash);
    if (!content) throw notFound(`The code snapshot ${hash.slice(0, 12)} is missing from storage.`);
    const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      for (const f of content.files) {
        const target = join(tmp, ...f.path.split('/'));
        await mkdir(dirname(target), { recursive: true });
        await pipeline((await this.#d.content.open(workspace, hash, f.path)).stream, createWriteStream(target));
      }
      await mkdir(dirname(dir), { recursive: true });
      await rename(tmp, dir).catch(async (err: unknown) => {
        if (!existsSync(dir)) throw err;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return dir;
  }

  /** The Python that runs the scoring host: the host's, or a cached venv built as a job's would be. */
  async #python(env: TaskEnvironment, logPath: string): Promise<string> {
    if (env.kind === 'host') return this.#d.python;
    return new Promise((resolve, reject) => {
      const log = createWriteStream(logPath, { flags: 'a' });
      const child = spawn(this.#d.python, ['-I', '-S', ENV_CLI], {
        env: { ...process.env, LAPIS_CACHE_DIR: this.#d.cacheDir, LAPIS_PYTHON: this.#d.python },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.pipe(log);
      child.stdin.end(JSON.stringify({ hash: env.hash, python: env.python, pip: env.pip, name: env.name }));
      child.once('error', reject);
      child.once('exit', (code) => {
        log.end();
        const last = out.trim().split('\n').pop() ?? '';
        if (code === 0) {
          try {
            return resolve((JSON.parse(last) as { python: string }).python);
          } catch {
            // reported below
          }
        }
        void readFile(logPath, 'utf8').then(
          (text) => reject(new Error(`building the environment ${env.name} failed; its build log ends:\n${text.split('\n').slice(-20).join('\n')}`)),
          () => reject(new Error(`building the environment ${env.name} failed`)),
        );
      });
    });
  }

  async getDeployment(workspace: string, endpoint: string, name: string): Promise<DeploymentView> {
    const row = await this.#deploymentRow(workspace, endpoint, name);
    return this.#view(row, await this.#endpointRow(endpoint));
  }

  async listDeployments(workspace: string, endpoint: string): Promise<DeploymentView[]> {
    const ep = await this.#endpointRow(endpoint, workspace);
    return (await this.#deploymentRows(endpoint)).map((r) => this.#view(r, ep));
  }

  #view(row: Selectable<DeploymentTable>, endpoint: Pick<EndpointTable, 'traffic' | 'mirror_traffic'>): DeploymentView {
    const traffic = (JSON.parse(endpoint.traffic) as Record<string, number>)[row.name] ?? 0;
    const mirror = (JSON.parse(endpoint.mirror_traffic) as Record<string, number>)[row.name] ?? 0;
    const spec = JSON.parse(row.spec) as OnlineDeploymentSpec;
    const runtime = JSON.parse(row.runtime) as RuntimeSpec;
    const collect = this.#collecting(spec);
    const instances = this.runtime.instances(`${row.endpoint}/${row.name}`);
    const kind = runtime.kind ?? 'python';
    return {
      name: row.name,
      endpoint_name: row.endpoint,
      state: row.state as DeploymentState,
      error: row.error,
      model: runtime.model.scope.startsWith('registry/') ? `azureml://registries/${runtime.model.scope.slice(9)}/models/${runtime.model.name}/versions/${runtime.model.version}` : `azureml:${runtime.model.name}:${runtime.model.version}`,
      environment: kind === 'onnx' ? 'none (in-process ONNX Runtime)' : (runtime.environment?.name ?? "built from the model's requirements"),
      instance_count: spec.instance_count ?? 1,
      request_settings: requestSettings(spec),
      probes: probeSettings(spec),
      runtime: kind,
      instances,
      traffic,
      mirror_traffic: mirror,
      metrics: this.stats.of(row.endpoint, row.name),
      data_collector: collect ? this.collector.status(row.endpoint, row.name, collect) : null,
      created_at: Number(row.created_at),
      created_by: row.created_by,
      updated_at: Number(row.updated_at),
      spec: spec as unknown as Record<string, unknown>,
    };
  }

  async deleteDeployment(workspace: string, endpoint: string, name: string): Promise<void> {
    const row = await this.#deploymentRow(workspace, endpoint, name);
    const ep = await this.#endpointRow(endpoint);
    const traffic = JSON.parse(ep.traffic) as Record<string, number>;
    const mirror = JSON.parse(ep.mirror_traffic) as Record<string, number>;
    if ((traffic[name] ?? 0) > 0) throw invalid(`Deployment '${name}' takes ${traffic[name]}% of endpoint '${endpoint}''s traffic; move it first: lapis online-endpoint update --name ${endpoint} --traffic "<other>=100".`);
    if ((mirror[name] ?? 0) > 0) throw invalid(`Deployment '${name}' receives mirrored traffic; stop it first: lapis online-endpoint update --name ${endpoint} --mirror-traffic "${name}=0".`);
    await this.runtime.stop(`${endpoint}/${row.name}`);
    await this.#d.database.db.deleteFrom('deployments').where('endpoint', '=', endpoint).where('name', '=', name).execute();
    const rest = Object.fromEntries(Object.entries(traffic).filter(([k]) => k !== name));
    await this.#d.database.db.updateTable('endpoints').set({ traffic: JSON.stringify(rest), updated_at: now() }).where('name', '=', endpoint).execute();
    this.stats.forget(endpoint, name);
    this.collector.forget(endpoint, name);
    await this.#refresh(endpoint);
  }

  /**
   * A deployment's log: its last `lines` lines (the environment build's log first), or with `after`
   * what its scoring processes wrote from that offset on; `offset` is where to read on (`--follow`).
   */
  async logs(workspace: string, endpoint: string, name: string, opts: { lines: number; after?: number }): Promise<{ log: string; offset: number }> {
    await this.#deploymentRow(workspace, endpoint, name);
    const dir = join(this.#d.dataDir, 'serving', endpoint, name);
    if (opts.after !== undefined) {
      const { text, next } = await readFrom(join(dir, 'deployment.log'), opts.after);
      return { log: text, offset: next };
    }
    const [build, run] = await Promise.all([tailLines(join(dir, 'environment_build.log'), opts.lines), tailLines(join(dir, 'deployment.log'), opts.lines)]);
    const text = `${build.text}${run.text}`.split('\n').slice(-opts.lines - 1).join('\n');
    return { log: text, offset: run.size };
  }

  // ---- routing ------------------------------------------------------------------------------

  routing(endpoint: string): RoutingEntry | undefined {
    return this.#routes.get(endpoint);
  }

  async #refresh(endpoint: string): Promise<void> {
    const row = await this.#d.database.db.selectFrom('endpoints').selectAll().where('name', '=', endpoint).executeTakeFirst();
    if (!row) {
      this.#routes.delete(endpoint);
      return;
    }
    const deployments = await this.#deploymentRows(endpoint);
    this.#routes.set(endpoint, {
      workspace: row.workspace,
      authMode: row.auth_mode,
      keys: JSON.parse(this.#d.secrets.open(row.keys)) as [string, string],
      traffic: Object.entries(JSON.parse(row.traffic) as Record<string, number>).filter(([, pct]) => pct > 0),
      mirror: Object.entries(JSON.parse(row.mirror_traffic) as Record<string, number>).find(([, pct]) => pct > 0),
      deployments: new Map(
        deployments.map((d) => {
          const spec = JSON.parse(d.spec) as OnlineDeploymentSpec;
          return [d.name, { timeoutMs: requestSettings(spec).request_timeout_ms, collect: this.#collecting(spec) }];
        }),
      ),
    });
  }

  #collecting(spec: OnlineDeploymentSpec): CollectorConfig | undefined {
    return collectorConfig(spec, this.#d.datastores);
  }

  /** At start: routing tables loaded, and every deployment that was up brought up again. */
  async start(baseUrl: string): Promise<void> {
    this.#baseUrl = baseUrl;
    const endpoints = await this.#d.database.db.selectFrom('endpoints').select('name').execute();
    for (const e of endpoints) await this.#refresh(e.name);
    // An update cut short by a stop never wrote its new spec: the stored one is what was serving.
    const rows = await this.#d.database.db.selectFrom('deployments').selectAll().where('state', 'in', ['Creating', 'Updating', 'Succeeded']).execute();
    for (const row of rows) void this.#bringUp(row, false);
  }

  async close(): Promise<void> {
    await this.runtime.close();
    await this.collector.flush();
  }

  async purge(workspace: string): Promise<void> {
    for (const e of await this.#d.database.db.selectFrom('endpoints').select('name').where('workspace', '=', workspace).execute()) await this.deleteEndpoint(workspace, e.name);
  }
}

/** Constant-time: whether `given` is one of the endpoint's keys. */
export function keyMatches(keys: readonly string[], given: string): boolean {
  const g = Buffer.from(given);
  return keys.some((k) => {
    const b = Buffer.from(k);
    return b.length === g.length && timingSafeEqual(b, g);
  });
}

export function requestSettings(spec: OnlineDeploymentSpec): { request_timeout_ms: number; max_concurrent_requests_per_instance: number } {
  return {
    request_timeout_ms: spec.request_settings?.request_timeout_ms ?? 5000,
    max_concurrent_requests_per_instance: spec.request_settings?.max_concurrent_requests_per_instance ?? 1,
  };
}

function checkMirror(raw: unknown): Record<string, number> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('mirror_traffic must map one deployment name to a percentage, e.g. {"green": 10}.');
  const entries = Object.entries(raw).filter(([, v]) => v !== 0);
  if (entries.length > 1) throw invalid(`mirror_traffic may name one deployment only (got ${entries.map(([k]) => k).join(', ')}).`);
  for (const [k, v] of entries) {
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 50) throw invalid(`mirror_traffic.${k} must be a whole percentage from 0 to 50 (got ${JSON.stringify(v)}).`);
  }
  return raw as Record<string, number>;
}

function checkTraffic(raw: unknown): Record<string, number> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('traffic must map deployment names to percentages, e.g. {"blue": 90, "green": 10}.');
  for (const [k, v] of Object.entries(raw)) {
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 100) throw invalid(`traffic.${k} must be a whole percentage from 0 to 100 (got ${JSON.stringify(v)}).`);
  }
  const issues = trafficIssues(raw, 'traffic');
  if (issues.length > 0) throw invalid(`traffic: ${issues[0]?.message}.`);
  return raw as Record<string, number>;
}

/**
 * A no-code MLflow deployment without an environment gets one from the model itself, as Azure ML
 * builds it: the model's requirements.txt (and the Python of its python_env.yaml).
 */
async function requirementsEnvironment(modelDir: string): Promise<TaskEnvironment> {
  const requirements = await readFile(join(modelDir, 'requirements.txt'), 'utf8').catch(() => undefined);
  if (requirements === undefined) throw invalid("The MLflow model has no requirements.txt to build its environment from; give the deployment an environment.");
  const pyEnv = await readFile(join(modelDir, 'python_env.yaml'), 'utf8').catch(() => '');
  return mlflowModelEnvironment("the model's requirements.txt", requirements, pyEnv);
}

function isUnique(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

