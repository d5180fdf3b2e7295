/**
 * Batch endpoints and deployments. An invocation is a command job (docs/jobs.md) whose command is
 * the batch driver (python/lapis_batch): it runs in the deployment's environment, splits the input
 * into mini-batches, scores them with worker processes and writes the predictions to the job's
 * output `score`. So a batch job is listed, logged, canceled and downloaded like any job, and is an
 * MLflow run on which the driver logs its progress.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Selectable } from 'kysely';
import { readText } from '../blobs/index.js';
import { now } from '../core/clock.js';
import { LapisError, alreadyExists, invalid, notFound } from '../core/errors.js';
import { environmentOf, modelRequirements } from '../compute/environments.js';
import type { ComputeTargets } from '../compute/targets.js';
import { DatastoreService } from '../datastores/service.js';
import { BATCH_ENDPOINT_TAG, BATCH_OUTPUT_FILE_TAG, type JobService, type JobView } from '../jobs/service.js';
import { specErrors, type AssetService } from '../registry/assets.js';
import { manifestHash, type ContentFile, type ContentStore } from '../registry/content.js';
import { scopeOf, type ModelAssets } from '../registry/model-assets.js';
import { parseAssetRef, type BatchDeploymentSpec, type BatchEndpointSpec, type InlineEnvironmentSpec } from '../specs/index.js';
import type { Database } from '../store/db.js';
import type { BatchDeploymentTable, BatchEndpointTable } from '../store/schema.js';
import type { Workspace } from '../workspaces/service.js';
import { tablePlan, type TablePlan } from './mltable.js';

const PYTHON_DIR = fileURLToPath(new URL('../../python/', import.meta.url));
/** The packages a batch job runs: the driver, and the scoring host whose model loading it reuses. */
const DRIVER_PACKAGES = ['lapis_batch', 'lapis_score'];

export const BATCH_INPUT_TYPES = ['uri_folder', 'uri_file', 'mltable'] as const;
type BatchInputType = (typeof BATCH_INPUT_TYPES)[number];

export interface BatchSettings {
  instance_count: number;
  mini_batch_size: number;
  max_concurrency_per_instance: number;
  error_threshold: number;
  output_action: 'append_row' | 'summary_only';
  output_file_name: string;
  retry_settings: { max_retries: number; timeout: number };
  logging_level: string;
  environment_variables: Record<string, string>;
}

/** What a deployment's jobs run, resolved when it is created or updated. */
interface BatchRuntime {
  model: { reference: string; type: 'mlflow_model' | 'custom_model' };
  code: { hash: string; path: string; scoring_script: string } | null;
  /** The job's `environment:` — the deployment's, or for a no-code MLflow model one from its requirements. */
  environment: string | InlineEnvironmentSpec | undefined;
  environment_name: string;
  compute: string;
}

export interface BatchEndpointView {
  name: string;
  description?: string;
  auth_mode: string;
  defaults: { deployment_name: string | null };
  invocation_uri: string;
  tags: Record<string, string>;
  deployments: string[];
  created_at: number;
  created_by: string;
  updated_at: number;
}

export interface BatchDeploymentView {
  name: string;
  endpoint_name: string;
  is_default: boolean;
  model: string;
  code: { hash: string; scoring_script: string } | null;
  environment: string;
  compute: string;
  settings: BatchSettings;
  description?: string;
  tags: Record<string, string>;
  created_at: number;
  created_by: string;
  updated_at: number;
  spec: Record<string, unknown>;
}

export interface InvokeRequest {
  input?: unknown;
  input_type?: unknown;
  deployment_name?: unknown;
  output_path?: unknown;
  mini_batch_size?: unknown;
  job_name?: unknown;
  experiment_name?: unknown;
  /** The content hash of a local input the client uploaded (then `input` is its local path, for the record). */
  uploads?: { input?: unknown };
}

export interface BatchDeps {
  database: Database;
  assets: AssetService;
  models: ModelAssets;
  content: ContentStore;
  datastores: DatastoreService;
  computes: ComputeTargets;
  jobs: JobService;
  serverUrl(): string;
}

type EndpointRow = Selectable<BatchEndpointTable>;
type DeploymentRow = Selectable<BatchDeploymentTable>;

export class BatchService {
  readonly #d: BatchDeps;
  #driver: Promise<{ hash: string; files: (ContentFile & { body: Buffer })[] }> | undefined;

  constructor(deps: BatchDeps) {
    this.#d = deps;
  }

  // ---- endpoints ----------------------------------------------------------------------------

  async createEndpoint(workspace: string, rawSpec: unknown, createdBy: string): Promise<BatchEndpointView> {
    specErrors('batch-endpoint', rawSpec);
    const spec = rawSpec as BatchEndpointSpec;
    if (await this.#endpointRow(workspace, spec.name).catch(() => undefined)) throw alreadyExists(`A batch endpoint named '${spec.name}' already exists in workspace '${workspace}'. Choose another name, or change it with 'lapis batch-endpoint update'.`);
    const wanted = spec.defaults?.deployment_name;
    if (wanted) throw invalid(`defaults.deployment_name names '${wanted}', but a new endpoint has no deployments: create it with 'lapis batch-deployment create -f deployment.yml --set-default' (the first deployment becomes the default anyway).`);
    const t = now();
    const row: BatchEndpointTable = { workspace, name: spec.name, spec: JSON.stringify(spec), default_deployment: null, created_at: t, created_by: createdBy, updated_at: t };
    try {
      await this.#d.database.db.insertInto('batch_endpoints').values(row).execute();
    } catch (err) {
      if (isUnique(err)) throw alreadyExists(`A batch endpoint named '${spec.name}' already exists in workspace '${workspace}'.`);
      throw err;
    }
    return this.getEndpoint(workspace, spec.name);
  }

  /** The YAML again: description, tags, auth_mode and defaults.deployment_name (which must exist). */
  async updateEndpoint(workspace: string, name: string, rawSpec: unknown): Promise<BatchEndpointView> {
    specErrors('batch-endpoint', rawSpec);
    const spec = rawSpec as BatchEndpointSpec;
    if (spec.name !== name) throw invalid(`The spec names endpoint '${spec.name}' but the request names '${name}'; an endpoint cannot be renamed.`);
    const row = await this.#endpointRow(workspace, name);
    const wanted = spec.defaults?.deployment_name;
    if (wanted) await this.#deploymentRow(workspace, name, wanted);
    await this.#d.database.db
      .updateTable('batch_endpoints')
      .set({ spec: JSON.stringify(spec), default_deployment: wanted ?? row.default_deployment, updated_at: now() })
      .where('workspace', '=', workspace)
      .where('name', '=', name)
      .execute();
    return this.getEndpoint(workspace, name);
  }

  async #endpointRow(workspace: string, name: string): Promise<EndpointRow> {
    const row = await this.#d.database.db.selectFrom('batch_endpoints').selectAll().where('workspace', '=', workspace).where('name', '=', name).executeTakeFirst();
    if (!row) throw notFound(`No batch endpoint '${name}' in workspace '${workspace}'. List them with 'lapis batch-endpoint list'.`);
    return row;
  }

  async getEndpoint(workspace: string, name: string): Promise<BatchEndpointView> {
    const row = await this.#endpointRow(workspace, name);
    const spec = JSON.parse(row.spec) as BatchEndpointSpec;
    const deployments = await this.#deploymentRows(workspace, name);
    return {
      name: row.name,
      ...(spec.description ? { description: spec.description } : {}),
      auth_mode: spec.auth_mode,
      defaults: { deployment_name: row.default_deployment },
      invocation_uri: `${this.#d.serverUrl().replace(/\/+$/, '')}/batch-endpoints/${row.name}/invoke`,
      tags: spec.tags ?? {},
      deployments: deployments.map((d) => d.name),
      created_at: Number(row.created_at),
      created_by: row.created_by,
      updated_at: Number(row.updated_at),
    };
  }

  async listEndpoints(workspace: string): Promise<BatchEndpointView[]> {
    const rows = await this.#d.database.db.selectFrom('batch_endpoints').select('name').where('workspace', '=', workspace).orderBy('name').execute();
    return Promise.all(rows.map((r) => this.getEndpoint(workspace, r.name)));
  }

  /** Deletes the endpoint and its deployments; the jobs it ran stay (they are ordinary jobs). */
  async deleteEndpoint(workspace: string, name: string): Promise<void> {
    await this.#endpointRow(workspace, name);
    await this.#d.database.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('batch_deployments').where('workspace', '=', workspace).where('endpoint', '=', name).execute();
      await tx.deleteFrom('batch_endpoints').where('workspace', '=', workspace).where('name', '=', name).execute();
    });
  }

  // ---- deployments --------------------------------------------------------------------------

  async #deploymentRows(workspace: string, endpoint: string): Promise<DeploymentRow[]> {
    return this.#d.database.db.selectFrom('batch_deployments').selectAll().where('workspace', '=', workspace).where('endpoint', '=', endpoint).orderBy('created_at').execute();
  }

  async #deploymentRow(workspace: string, endpoint: string, name: string): Promise<DeploymentRow> {
    const row = await this.#d.database.db.selectFrom('batch_deployments').selectAll().where('workspace', '=', workspace).where('endpoint', '=', endpoint).where('name', '=', name).executeTakeFirst();
    if (row) return row;
    const names = (await this.#deploymentRows(workspace, endpoint)).map((d) => d.name);
    throw notFound(`Batch endpoint '${endpoint}' has no deployment '${name}' (it has: ${names.join(', ') || 'none'}). Create one with 'lapis batch-deployment create -f deployment.yml'.`);
  }

  /** Validates and resolves everything first (nothing is stored on error); the first deployment of an endpoint becomes its default. */
  async createDeployment(workspace: string, rawSpec: unknown, upload: { code?: string }, createdBy: string, opts: { setDefault?: boolean } = {}): Promise<BatchDeploymentView> {
    specErrors('batch-deployment', rawSpec);
    const spec = rawSpec as BatchDeploymentSpec;
    const endpoint = await this.#endpointRow(workspace, spec.endpoint_name);
    const exists = await this.#d.database.db.selectFrom('batch_deployments').select('name').where('workspace', '=', workspace).where('endpoint', '=', spec.endpoint_name).where('name', '=', spec.name).executeTakeFirst();
    if (exists) throw alreadyExists(`Batch endpoint '${spec.endpoint_name}' already has a deployment '${spec.name}'. Change it with 'lapis batch-deployment update -f …', or choose another name.`);
    const runtime = await this.#resolve(workspace, spec, upload);
    const t = now();
    await this.#d.database.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('batch_deployments')
        .values({ workspace, endpoint: spec.endpoint_name, name: spec.name, spec: JSON.stringify(spec), runtime: JSON.stringify(runtime), created_at: t, created_by: createdBy, updated_at: t })
        .execute();
      if (opts.setDefault || endpoint.default_deployment === null) {
        await tx.updateTable('batch_endpoints').set({ default_deployment: spec.name, updated_at: t }).where('workspace', '=', workspace).where('name', '=', spec.endpoint_name).execute();
      }
    });
    return this.getDeployment(workspace, spec.endpoint_name, spec.name);
  }

  async updateDeployment(workspace: string, rawSpec: unknown, upload: { code?: string }, opts: { setDefault?: boolean } = {}): Promise<BatchDeploymentView> {
    specErrors('batch-deployment', rawSpec);
    const spec = rawSpec as BatchDeploymentSpec;
    await this.#endpointRow(workspace, spec.endpoint_name);
    await this.#deploymentRow(workspace, spec.endpoint_name, spec.name);
    const runtime = await this.#resolve(workspace, spec, upload);
    const t = now();
    await this.#d.database.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('batch_deployments')
        .set({ spec: JSON.stringify(spec), runtime: JSON.stringify(runtime), updated_at: t })
        .where('workspace', '=', workspace)
        .where('endpoint', '=', spec.endpoint_name)
        .where('name', '=', spec.name)
        .execute();
      if (opts.setDefault) await tx.updateTable('batch_endpoints').set({ default_deployment: spec.name, updated_at: t }).where('workspace', '=', workspace).where('name', '=', spec.endpoint_name).execute();
    });
    return this.getDeployment(workspace, spec.endpoint_name, spec.name);
  }

  /** Every reference resolved before anything is stored: the model version, the code upload, the environment, the compute target. */
  async #resolve(workspace: string, spec: BatchDeploymentSpec, upload: { code?: string }): Promise<BatchRuntime> {
    const ref = parseAssetRef(spec.model, 'models');
    const scope = scopeOf(ref.registry ? `registry/${ref.registry}` : workspace);
    const version = await this.#d.models.resolveVersion(scope, ref.name, ref.version ?? 'latest');
    const files = await this.#d.models.files(scope, ref.name, version);
    const mlflow = files.some((f) => f.path === 'MLmodel');
    const reference = ref.registry ? `azureml://registries/${ref.registry}/models/${ref.name}/versions/${version}` : `azureml:${ref.name}:${version}`;
    let code: BatchRuntime['code'] = null;
    if (spec.code_configuration) {
      const { code: path, scoring_script } = spec.code_configuration;
      if (!upload.code) throw invalid(`code_configuration.code '${path}' was not uploaded; create the deployment with the CLI (lapis batch-deployment create -f deployment.yml), which uploads it.`);
      const content = await this.#d.content.find(workspace, upload.code);
      if (!content) throw invalid(`The code upload ${upload.code.slice(0, 12)}… is not stored in workspace '${workspace}'; upload it again.`);
      const script = scoring_script.replace(/^\.\//, '');
      if (!content.files.some((f) => f.path === script)) throw invalid(`The scoring script '${script}' is not in code '${path}' (files: ${content.files.slice(0, 10).map((f) => f.path).join(', ')}); fix code_configuration.scoring_script.`);
      code = { hash: upload.code, path, scoring_script: script };
    } else if (!mlflow) {
      throw invalid(`Model ${ref.name}:${version} is not an MLflow model (no MLmodel file), so it needs a scoring script: add code_configuration {code, scoring_script} with init() and run(mini_batch).`);
    }
    if (code && spec.environment === undefined) throw invalid('A deployment with a scoring script needs an environment (Azure ML requires one too): add environment: azureml:<name>@latest, or an inline one.');
    let environment: BatchRuntime['environment'] = spec.environment;
    let environmentName: string;
    if (spec.environment !== undefined) {
      environmentName = (await environmentOf(workspace, spec.environment, this.#d.assets)).name;
      if (typeof spec.environment === 'string') environmentName = spec.environment;
    } else {
      environment = await this.#modelEnvironment(scope, ref.name, version);
      environmentName = `built from ${ref.name}:${version}'s requirements.txt`;
    }
    const compute = spec.compute ?? 'local';
    const target = await this.#d.computes.resolve(workspace, compute);
    const settings = settingsOf(spec);
    if (settings.instance_count > target.max_instances) throw invalid(`resources.instance_count ${settings.instance_count} does not fit compute '${target.name}', which has ${target.max_instances} slot(s); lower instance_count or use a larger target.`);
    return { model: { reference, type: mlflow ? 'mlflow_model' : 'custom_model' }, code, environment, environment_name: environmentName, compute };
  }

  /** A no-code MLflow deployment gets the model's own environment, expressed as an inline one so the job builds (or reuses) it. */
  async #modelEnvironment(scope: Workspace, name: string, version: string): Promise<InlineEnvironmentSpec> {
    const requirements = await this.#d.models.text(scope, name, version, 'requirements.txt');
    if (requirements === undefined) throw invalid(`MLflow model ${name}:${version} has no requirements.txt to build its environment from; give the deployment an environment.`);
    const { python, pip } = modelRequirements(requirements, (await this.#d.models.text(scope, name, version, 'python_env.yaml')) ?? '');
    return { conda_file: { dependencies: [...(python ? [`python=${python}`] : []), { pip }] } } as InlineEnvironmentSpec;
  }

  async getDeployment(workspace: string, endpoint: string, name: string): Promise<BatchDeploymentView> {
    const ep = await this.#endpointRow(workspace, endpoint);
    return view(await this.#deploymentRow(workspace, endpoint, name), ep.default_deployment);
  }

  async listDeployments(workspace: string, endpoint: string): Promise<BatchDeploymentView[]> {
    const ep = await this.#endpointRow(workspace, endpoint);
    return (await this.#deploymentRows(workspace, endpoint)).map((r) => view(r, ep.default_deployment));
  }

  async deleteDeployment(workspace: string, endpoint: string, name: string): Promise<void> {
    const ep = await this.#endpointRow(workspace, endpoint);
    await this.#deploymentRow(workspace, endpoint, name);
    const others = (await this.#deploymentRows(workspace, endpoint)).filter((d) => d.name !== name);
    if (ep.default_deployment === name && others.length > 0) {
      throw invalid(`Deployment '${name}' is the default of batch endpoint '${endpoint}'; make another one the default first (lapis batch-deployment update -f <file> --set-default, e.g. for '${others[0]?.name}'), or delete the endpoint.`);
    }
    await this.#d.database.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('batch_deployments').where('workspace', '=', workspace).where('endpoint', '=', endpoint).where('name', '=', name).execute();
      if (ep.default_deployment === name) await tx.updateTable('batch_endpoints').set({ default_deployment: null, updated_at: now() }).where('workspace', '=', workspace).where('name', '=', endpoint).execute();
    });
  }

  // ---- invocations --------------------------------------------------------------------------

  /** Starts a scoring job over `input`; every check (the job's included) runs before anything is created. */
  async invoke(ws: Workspace, endpoint: string, body: InvokeRequest, createdBy: { name: string; id: string | null }): Promise<JobView> {
    const ep = await this.#endpointRow(ws.name, endpoint);
    const named = optionalString(body.deployment_name, 'deployment_name');
    const depName = named ?? ep.default_deployment;
    if (!depName) throw invalid(`Batch endpoint '${endpoint}' has no default deployment: name one with --deployment-name, or create one with 'lapis batch-deployment create -f deployment.yml --set-default'.`);
    const dep = await this.#deploymentRow(ws.name, endpoint, depName);
    const input = optionalString(body.input, 'input');
    if (!input) throw invalid('Give the data to score: --input azureml:<data>:<version>, a datastore path (azureml://datastores/workspaceblobstore/paths/…), an http(s) URL, or a local file or folder.');
    const upload = body.uploads?.input;
    if (upload !== undefined && (typeof upload !== 'string' || !/^[0-9a-f]{64}$/.test(upload))) throw invalid('uploads.input must be the content hash (64 hex characters) of the uploaded input.');
    const inputType = await this.#inputType(ws.name, input, body.input_type, upload !== undefined);
    const table = inputType === 'mltable' ? await this.#tablePlan(ws.name, input, upload) : undefined;
    const outputPath = optionalString(body.output_path, 'output_path');
    if (outputPath !== undefined && !DatastoreService.isUri(outputPath)) throw invalid(`output_path must be a datastore path: azureml://datastores/workspaceblobstore/paths/<path> (got '${outputPath}').`);
    const jobName = optionalString(body.job_name, 'job_name');
    const experiment = optionalString(body.experiment_name, 'experiment_name') ?? endpoint;
    const spec = JSON.parse(dep.spec) as BatchDeploymentSpec;
    const runtime = JSON.parse(dep.runtime) as BatchRuntime;
    const settings = settingsOf(spec);
    if (body.mini_batch_size !== undefined) {
      if (!Number.isSafeInteger(body.mini_batch_size) || (body.mini_batch_size as number) < 1) throw invalid(`mini_batch_size must be a whole number of at least 1 (got ${JSON.stringify(body.mini_batch_size)}).`);
      settings.mini_batch_size = body.mini_batch_size as number;
    }
    const target = await this.#d.computes.resolve(ws.name, runtime.compute);
    if (settings.instance_count > target.max_instances) throw invalid(`Deployment '${dep.name}' needs ${settings.instance_count} instances, but compute '${target.name}' has ${target.max_instances} slot(s) now; lower resources.instance_count or use a larger target.`);
    const driver = await this.#driverContent(ws.name);
    const jobSpec = {
      type: 'command',
      ...(jobName ? { name: jobName } : {}),
      display_name: `${endpoint}/${dep.name}`,
      experiment_name: experiment,
      tags: { [BATCH_ENDPOINT_TAG]: endpoint, 'lapis.batch_deployment': dep.name, ...(settings.output_action === 'append_row' ? { [BATCH_OUTPUT_FILE_TAG]: settings.output_file_name } : {}) },
      command: driverCommand(settings, inputType, runtime.code?.scoring_script),
      ...(runtime.code ? { code: runtime.code.path } : {}),
      inputs: {
        data: { type: inputType, path: input, mode: 'ro_mount' },
        model: { type: runtime.model.type, path: runtime.model.reference, mode: 'ro_mount' },
        driver: { type: 'uri_folder', path: 'lapis-batch-driver', mode: 'ro_mount' },
      },
      outputs: { score: { type: 'uri_folder', mode: 'rw_mount', ...(outputPath ? { path: outputPath } : {}) } },
      ...(runtime.environment !== undefined ? { environment: runtime.environment } : {}),
      // The table's plan as JSON: the driver then needs no YAML parser in the deployment's environment.
      environment_variables: { ...settings.environment_variables, ...(table ? { BATCH_MLTABLE_PLAN: JSON.stringify(table) } : {}) },
      compute: runtime.compute,
    };
    const uploads = { ...(runtime.code ? { code: runtime.code.hash } : {}), inputs: { driver: driver.hash, ...(upload ? { data: upload as string } : {}) } };
    const job = await this.#d.jobs.create(ws, { spec: jobSpec, uploads }, createdBy, { slots: settings.instance_count });
    await this.#d.database.db.insertInto('batch_jobs').values({ job: job.name, workspace: ws.name, endpoint, deployment: dep.name, created_at: job.created_at }).execute();
    await this.#d.jobs.appendServerLog(job.name, `Batch endpoint ${endpoint}, deployment ${dep.name}: scoring ${input} (${inputType}) with ${settings.instance_count} instance(s) × ${settings.max_concurrency_per_instance} worker(s), mini_batch_size ${settings.mini_batch_size}.`);
    return job;
  }

  /** The input's type: as given, else a data asset's own type, else what its form implies. */
  async #inputType(workspace: string, input: string, given: unknown, uploaded: boolean): Promise<BatchInputType> {
    if (given !== undefined) {
      if (!(BATCH_INPUT_TYPES as readonly unknown[]).includes(given)) throw invalid(`input_type must be uri_folder (score the files of a folder), uri_file (score the rows of a CSV or Parquet file) or mltable (score the rows of a table), not ${JSON.stringify(given)}.`);
      return given as BatchInputType;
    }
    if (uploaded || /^[a-z][a-z0-9+.-]*:\/\//i.test(input)) return /^https?:\/\//i.test(input) ? 'uri_file' : 'uri_folder';
    const asset = await this.#d.assets.resolve(workspace, 'data', input).catch((err: unknown) => {
      if (err instanceof LapisError && err.status < 500) return undefined; // the job's own checks say what is wrong
      throw err;
    });
    const type = asset?.spec.type;
    return type === 'uri_file' || type === 'mltable' ? type : 'uri_folder';
  }

  /**
   * An mltable input's plan, from the MLTable file at the top of its folder: the uploaded folder, a
   * datastore path, or a data asset's stored files or datastore path.
   */
  async #tablePlan(workspace: string, input: string, upload: string | undefined): Promise<TablePlan> {
    let source: { scope: string; hash: string; what: string };
    if (upload) {
      source = { scope: workspace, hash: upload, what: input };
    } else if (DatastoreService.isUri(input)) {
      return this.#datastoreTablePlan(workspace, input, input);
    } else {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) throw invalid(`An mltable input must be a data asset (azureml:<name>:<version>), a datastore path (azureml://datastores/<datastore>/paths/<folder>) or a local folder holding an MLTable file; ${input} is none of these.`);
      const asset = await this.#d.assets.resolve(workspace, 'data', input);
      const path = String(asset.spec.path ?? '');
      if (!asset.content_hash && DatastoreService.isUri(path)) return this.#datastoreTablePlan(workspace, path, asset.reference);
      if (!asset.content_hash) throw invalid(`Data asset ${asset.reference} points at ${path}; batch endpoints read mltable assets stored in Lapis (lapis data create with a local path) or on a datastore (azureml://datastores/…).`);
      source = { scope: asset.scope, hash: asset.content_hash, what: asset.reference };
    }
    const content = await this.#d.content.find(source.scope, source.hash);
    if (!content) throw invalid(`The files of ${source.what} are missing from storage; upload them again.`);
    const text = await this.#d.content.text(source.scope, source.hash, 'MLTable');
    if (text === undefined) throw noMLTable(source.what);
    return tablePlan(text, content.files.map((f) => f.path), source.what);
  }

  async #datastoreTablePlan(workspace: string, uri: string, what: string): Promise<TablePlan> {
    const at = this.#d.datastores.parse(uri);
    const { files } = await this.#d.datastores.files(workspace, at);
    if (!files.some((f) => f.path === 'MLTable')) throw files.length === 0 ? invalid(`Nothing is stored at ${uri}; a job output with path: ${uri} writes there.`) : noMLTable(what);
    const { stream } = await this.#d.datastores.open(workspace, { ...at, path: `${at.path.replace(/\/+$/, '')}/MLTable` });
    return tablePlan(await readText(stream), files.map((f) => f.path), what);
  }

  /** The driver's files as content of the workspace, stored once (their hash changes only with Lapis). */
  async #driverContent(workspace: string): Promise<{ hash: string }> {
    this.#driver ??= loadDriver();
    const driver = await this.#driver.catch((err: unknown) => {
      this.#driver = undefined;
      throw err;
    });
    if (!(await this.#d.content.find(workspace, driver.hash))) {
      for (const f of driver.files) await this.#d.content.putFile(workspace, driver.hash, f.path, f.sha256, Readable.from([f.body]));
      await this.#d.content.commit(workspace, driver.hash, driver.files.map(({ path, sha256, size }) => ({ path, sha256, size })));
    }
    return driver;
  }

  /** The endpoint's jobs, newest first. */
  async listJobs(ws: Workspace, endpoint: string, limit = 100): Promise<JobView[]> {
    await this.#endpointRow(ws.name, endpoint);
    const rows = await this.#d.database.db.selectFrom('batch_jobs').select('job').where('workspace', '=', ws.name).where('endpoint', '=', endpoint).orderBy('created_at', 'desc').limit(limit).execute();
    return Promise.all(rows.map((r) => this.#d.jobs.get(ws, r.job)));
  }

  async purge(workspace: string): Promise<void> {
    for (const table of ['batch_jobs', 'batch_deployments', 'batch_endpoints'] as const) await this.#d.database.db.deleteFrom(table).where('workspace', '=', workspace).execute();
  }
}

/** Settings with Azure ML's defaults, from either form of the YAML (top level, or under `settings:`). */
export function settingsOf(spec: BatchDeploymentSpec): BatchSettings {
  const s = { ...spec, ...spec.settings };
  return {
    instance_count: spec.resources?.instance_count ?? 1,
    mini_batch_size: s.mini_batch_size ?? 10,
    max_concurrency_per_instance: s.max_concurrency_per_instance ?? 1,
    error_threshold: s.error_threshold ?? -1,
    output_action: s.output_action ?? 'append_row',
    output_file_name: s.output_file_name ?? 'predictions.csv',
    retry_settings: { max_retries: s.retry_settings?.max_retries ?? 3, timeout: s.retry_settings?.timeout ?? 30 },
    logging_level: s.logging_level ?? 'info',
    environment_variables: Object.fromEntries(Object.entries(s.environment_variables ?? {}).map(([k, v]) => [k, String(v)])),
  };
}

/** The driver's command line; every value in it is a number or matched a safe pattern of the spec. */
function driverCommand(s: BatchSettings, inputType: string, scoringScript: string | undefined): string {
  return [
    'python ${{inputs.driver}}/lapis_batch/__main__.py',
    '--data ${{inputs.data}}',
    `--input-type ${inputType}`,
    '--model ${{inputs.model}}',
    '--output ${{outputs.score}}',
    ...(scoringScript ? [`--scoring-script ${scoringScript}`] : []),
    `--mini-batch-size ${s.mini_batch_size}`,
    `--instances ${s.instance_count}`,
    `--max-concurrency-per-instance ${s.max_concurrency_per_instance}`,
    `--error-threshold ${s.error_threshold}`,
    `--output-action ${s.output_action}`,
    `--output-file-name ${s.output_file_name}`,
    `--max-retries ${s.retry_settings.max_retries}`,
    `--timeout ${s.retry_settings.timeout}`,
    `--logging-level ${s.logging_level}`,
  ].join(' ');
}

async function loadDriver(): Promise<{ hash: string; files: (ContentFile & { body: Buffer })[] }> {
  const files: (ContentFile & { body: Buffer })[] = [];
  for (const pkg of DRIVER_PACKAGES) {
    for (const name of (await readdir(join(PYTHON_DIR, pkg))).filter((n) => n.endsWith('.py')).sort()) {
      const body = await readFile(join(PYTHON_DIR, pkg, name));
      files.push({ path: `${pkg}/${name}`, sha256: createHash('sha256').update(body).digest('hex'), size: body.length, body });
    }
  }
  return { hash: manifestHash(files), files };
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(`${field} must be a string (got ${JSON.stringify(value)}).`);
  return value;
}

function view(row: DeploymentRow, defaultDeployment: string | null): BatchDeploymentView {
  const spec = JSON.parse(row.spec) as BatchDeploymentSpec;
  const runtime = JSON.parse(row.runtime) as BatchRuntime;
  return {
    name: row.name,
    endpoint_name: row.endpoint,
    is_default: row.name === defaultDeployment,
    model: runtime.model.reference,
    code: runtime.code ? { hash: runtime.code.hash, scoring_script: runtime.code.scoring_script } : null,
    environment: runtime.environment_name,
    compute: runtime.compute,
    settings: settingsOf(spec),
    ...(spec.description ? { description: spec.description } : {}),
    tags: spec.tags ?? {},
    created_at: Number(row.created_at),
    created_by: row.created_by,
    updated_at: Number(row.updated_at),
    spec: spec as unknown as Record<string, unknown>,
  };
}

function isUnique(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function noMLTable(what: string): LapisError {
  return invalid(`${what} has no MLTable file at its top, which an mltable input needs (see docs/endpoints.md); score its files with --input-type uri_folder instead.`);
}
