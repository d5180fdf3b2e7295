/** Row types of the metadata database, as Kysely sees them. Timestamps are epoch milliseconds. */
import type { Generated } from 'kysely';

export interface WorkspaceTable {
  name: string;
  description: string;
  default_experiment_id: number;
  created_at: number;
}

export interface ExperimentTable {
  experiment_id: Generated<number>;
  workspace: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: string;
  creation_time: number;
  last_update_time: number;
}

export interface KeyValueRow {
  key: string;
  value: string;
}

export interface ExperimentTagTable extends KeyValueRow {
  experiment_id: number;
}

export interface RunTable {
  run_uuid: string;
  /** A unique integer per run, assigned at creation: the run's part of the `metrics` key. */
  run_key: number;
  workspace: string;
  experiment_id: number;
  name: string;
  user_id: string;
  status: string;
  start_time: number;
  end_time: number | null;
  lifecycle_stage: string;
  artifact_uri: string;
  deleted_time: number | null;
}

export interface RunKeyValueTable extends KeyValueRow {
  run_uuid: string;
}

export interface MetricTable {
  /** runs.run_key */
  run_key: number;
  key: string;
  step: number;
  timestamp: number;
  value: number;
  /** NaN is stored as value 0 with is_nan 1: neither SQLite nor every driver round-trips NaN. */
  is_nan: number;
  model_id: string | null;
  dataset_name: string | null;
  dataset_digest: string | null;
}

export interface LatestMetricTable {
  run_uuid: string;
  key: string;
  step: number;
  timestamp: number;
  value: number;
  is_nan: number;
}

export interface DatasetTable {
  dataset_uuid: string;
  experiment_id: number;
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema: string | null;
  profile: string | null;
}

export interface RunInputTable {
  input_uuid: string;
  run_uuid: string;
  dataset_uuid: string;
}

export interface InputTagTable extends KeyValueRow {
  input_uuid: string;
}

export interface RunModelTable {
  run_uuid: string;
  model_id: string;
  direction: 'input' | 'output';
  step: number;
}

export interface LoggedModelTable {
  model_id: string;
  workspace: string;
  experiment_id: number;
  name: string;
  artifact_location: string;
  creation_timestamp_ms: number;
  last_updated_timestamp_ms: number;
  status: number;
  status_message: string | null;
  lifecycle_stage: string;
  model_type: string | null;
  source_run_id: string | null;
}

export interface LoggedModelKeyValueTable extends KeyValueRow {
  model_id: string;
}

export interface LoggedModelMetricTable {
  model_id: string;
  key: string;
  step: number;
  timestamp: number;
  value: number;
  is_nan: number;
  run_id: string;
  dataset_name: string | null;
  dataset_digest: string | null;
}

export interface PrincipalTable {
  id: string;
  kind: 'user' | 'service_principal';
  name: string;
  display_name: string;
  password_hash: string | null;
  is_admin: number;
  disabled: number;
  created_at: number;
}

export interface TokenTable {
  id: string;
  principal_id: string;
  name: string;
  secret_hash: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface RoleTable {
  name: string;
  description: string;
  /** JSON arrays of action patterns such as `jobs/*` or `*\/read`. */
  actions: string;
  not_actions: string;
  created_at: number;
}

export interface RoleAssignmentTable {
  principal_id: string;
  workspace: string;
  role: string;
  created_at: number;
}

export interface AuditTable {
  id: Generated<number>;
  time: number;
  principal: string;
  workspace: string | null;
  action: string;
  resource: string;
  outcome: 'allowed' | 'denied' | 'failed';
  status: number;
  client_ip: string;
  request_id: string;
  method: string;
  path: string;
}

export interface RegisteredModelTable {
  workspace: string;
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description: string | null;
  user_id: string | null;
}

export interface ModelVersionTable {
  workspace: string;
  name: string;
  version: number;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description: string | null;
  user_id: string | null;
  current_stage: string;
  source: string;
  /** Where the files are: the logged model's or run's artifact URI the source resolved to. */
  storage_location: string;
  run_id: string | null;
  run_link: string | null;
  model_id: string | null;
  status: string;
  status_message: string | null;
  /** Azure ML model type (custom_model, mlflow_model, …) for versions created from YAML. */
  model_type: string | null;
  archived: Generated<number>;
  /** JSON snapshot of where the version came from, kept when it is shared to a registry. */
  lineage: string | null;
}

export interface RegistryTagTable extends KeyValueRow {
  workspace: string;
  name: string;
}

export interface ModelVersionTagTable extends RegistryTagTable {
  version: number;
}

export interface AliasTable {
  workspace: string;
  name: string;
  alias: string;
  version: number;
}

export interface RegistryScopeTable {
  name: string;
  description: string;
  created_at: number;
}

export interface ContentTable {
  scope: string;
  hash: string;
  /** JSON list of {path, sha256, size}. */
  files: string;
  size: number;
  created_at: number;
}

export interface AssetTable {
  scope: string;
  kind: 'data' | 'environment' | 'component';
  name: string;
  version: string;
  spec: string;
  content_hash: string | null;
  spec_hash: string;
  description: string | null;
  tags: string;
  created_at: number;
  created_by: string;
  archived: number;
  lineage: string | null;
}

export interface Schema {
  registries: RegistryScopeTable;
  contents: ContentTable;
  computes: ComputeTable;
  jobs: JobTable;
  job_logs: JobLogTable;
  endpoints: EndpointTable;
  deployments: DeploymentTable;
  batch_endpoints: BatchEndpointTable;
  batch_deployments: BatchDeploymentTable;
  batch_jobs: BatchJobTable;
  assets: AssetTable;
  registered_models: RegisteredModelTable;
  registered_model_tags: RegistryTagTable;
  model_versions: ModelVersionTable;
  model_version_tags: ModelVersionTagTable;
  registered_model_aliases: AliasTable;
  principals: PrincipalTable;
  tokens: TokenTable;
  roles: RoleTable;
  role_assignments: RoleAssignmentTable;
  audit_log: AuditTable;
  workspaces: WorkspaceTable;
  experiments: ExperimentTable;
  experiment_tags: ExperimentTagTable;
  runs: RunTable;
  params: RunKeyValueTable;
  tags: RunKeyValueTable;
  metrics: MetricTable;
  latest_metrics: LatestMetricTable;
  datasets: DatasetTable;
  run_inputs: RunInputTable;
  input_tags: InputTagTable;
  run_models: RunModelTable;
  logged_models: LoggedModelTable;
  logged_model_params: LoggedModelKeyValueTable;
  logged_model_tags: LoggedModelKeyValueTable;
  logged_model_metrics: LoggedModelMetricTable;
}

export interface ComputeTable {
  workspace: string;
  name: string;
  type: string;
  max_instances: number;
  spec: string;
  created_at: number;
  created_by: string;
}

export interface JobTable {
  name: string;
  workspace: string;
  experiment_id: number;
  display_name: string;
  status: string;
  compute: string;
  slots: number;
  /** The spec as submitted (JSON). */
  spec: string;
  /** What the task runner receives (JSON), resolved at submit. */
  task: string;
  created_at: number;
  created_by: string;
  principal_id: string | null;
  /** JSON map status → epoch ms of entering it. */
  status_times: string;
  ended_at: number | null;
  exit_code: number | null;
  error: string | null;
  attempt: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  pid: number | null;
  cancel_requested: number;
  token_id: string | null;
  outputs: string | null;
  archived: number;
}

export interface JobLogTable {
  id: Generated<number>;
  job: string;
  seq: number | null;
  stream: string;
  text: string;
  ts: number;
}

export interface EndpointTable {
  name: string;
  workspace: string;
  auth_mode: string;
  spec: string;
  /** The two keys, sealed under the server key. */
  keys: string;
  /** JSON map deployment → percent. */
  traffic: string;
  /** JSON map of the (at most one) mirrored deployment → percent of requests copied to it. */
  mirror_traffic: string;
  created_at: number;
  created_by: string;
  updated_at: number;
}

export interface DeploymentTable {
  endpoint: string;
  name: string;
  workspace: string;
  spec: string;
  /** What the instances run (JSON): model files, code snapshot, environment, scoring script. */
  runtime: string;
  state: string;
  error: string | null;
  created_at: number;
  created_by: string;
  updated_at: number;
}

export interface BatchEndpointTable {
  workspace: string;
  name: string;
  spec: string;
  default_deployment: string | null;
  created_at: number;
  created_by: string;
  updated_at: number;
}

export interface BatchDeploymentTable {
  workspace: string;
  endpoint: string;
  name: string;
  spec: string;
  /** What its jobs run (JSON): the resolved model version, the code snapshot, the environment. */
  runtime: string;
  created_at: number;
  created_by: string;
  updated_at: number;
}

export interface BatchJobTable {
  job: string;
  workspace: string;
  endpoint: string;
  deployment: string;
  created_at: number;
}
