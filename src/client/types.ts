/**
 * The shapes of the native API (`/api/v1`) as they travel on the wire: snake_case, timestamps in
 * epoch milliseconds (UTC). Request options are camelCase; responses are exactly what the server
 * sends, so `-o json` in the CLI and the studio see the same objects.
 */

export interface KeyValue {
  key: string;
  value: string;
}

/** `ACTIVE_ONLY` is the server's default. */
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

export interface Workspace {
  name: string;
  description: string;
  created_at: number;
  /** What the workspace holds, e.g. `{ experiments: 3, runs: 40 }`; only when getting one workspace. */
  resources?: Record<string, number>;
}

export interface WorkspaceList {
  workspaces: Workspace[];
}

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: 'active' | 'deleted';
  creation_time: number;
  last_update_time: number;
  tags: KeyValue[];
}

export interface ExperimentPage {
  experiments: Experiment[];
  /** Pass it back as `pageToken` for the next page; null on the last page. */
  next_page_token: string | null;
}

/** Doubles as MLflow's proto-JSON writes them: NaN and ±Infinity arrive as strings. */
export type JsonNumber = number | 'NaN' | 'Infinity' | '-Infinity';

export interface Metric {
  key: string;
  value: JsonNumber;
  timestamp: number;
  step: number;
}

export interface MetricHistory {
  metrics: Metric[];
  /** How many points the whole history holds, when it was down-sampled (`maxPoints`). */
  total?: number;
}

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface RunInfo {
  run_id: string;
  /** The same value as `run_id`, kept for MLflow compatibility. */
  run_uuid: string;
  run_name: string;
  experiment_id: string;
  user_id: string;
  status: RunStatus;
  start_time: number;
  /** Absent while the run has not ended. */
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: 'active' | 'deleted';
}

export interface Dataset {
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema?: string;
  profile?: string;
}

export interface DatasetInput {
  /** `mlflow.data.context` (e.g. `training`) is one of them. */
  tags: KeyValue[];
  dataset: Dataset;
}

export interface Run {
  info: RunInfo;
  data: {
    /** The latest value of each metric. */
    metrics: Metric[];
    params: KeyValue[];
    tags: KeyValue[];
  };
  inputs: {
    dataset_inputs: DatasetInput[];
    model_inputs: { model_id: string }[];
  };
  outputs: { model_outputs: { model_id: string; step: number }[] };
}

export interface RunPage {
  runs: Run[];
  next_page_token: string | null;
  /** Every matching run, when asked for with `includeTotal`. */
  total_count?: number;
}

export interface ArtifactEntry {
  /** Relative to the run's artifact root, `/`-separated. */
  path: string;
  is_dir: boolean;
  /** Present for files. */
  file_size?: number;
}

export interface ArtifactListing {
  root_uri: string;
  files: ArtifactEntry[];
}

export interface VersionInfo {
  lapis: string;
  mlflow_api: string;
}

export interface SearchExperimentsOptions {
  /** MLflow search grammar, e.g. `name LIKE 'fraud-%'`. */
  filter?: string;
  /** e.g. `['name ASC', 'creation_time DESC']`. */
  orderBy?: string[];
  view?: ViewType;
  maxResults?: number;
  pageToken?: string;
}

export interface SearchRunsOptions {
  /** Experiment ids or names; the server searches the workspace's Default experiment when empty. */
  experiments?: string[];
  /** MLflow search grammar, e.g. `metrics.rmse < 0.8 and params.alpha = '0.5'`. */
  filter?: string;
  /** e.g. `['metrics.rmse ASC']`. */
  orderBy?: string[];
  view?: ViewType;
  maxResults?: number;
  pageToken?: string;
  /** Start at this row instead of a page token (random access, e.g. a scrolled table). */
  offset?: number;
  /** Also count every matching run (`total_count`). */
  includeTotal?: boolean;
  signal?: AbortSignal;
}

export interface ListArtifactsOptions {
  /** A directory under the run's artifact root; the root when absent. */
  path?: string;
  /** Every file below `path` (files only), instead of one directory level. */
  recursive?: boolean;
}

// ---- access control ------------------------------------------------------------------------

/** The result of deleting a workspace: what it held when it was removed. */
export interface WorkspaceDeletion {
  deleted: string;
  /** e.g. `{ experiments: 2, runs: 40, logged_models: 0 }`. */
  removed: Record<string, number>;
}

export type PrincipalKind = 'user' | 'service_principal';

/** `local` is the single administrator of a server started with `--auth off`. */
export interface WhoAmI {
  name: string;
  kind: PrincipalKind | 'local';
  is_admin: boolean;
  /** False when the server runs with `--auth off` (every local caller is the admin). */
  auth_enabled: boolean;
  /** The workspaces where the caller holds at least one role, with those roles. */
  workspaces: { name: string; roles: string[] }[];
}

/** An API token as listed: never its secret. */
export interface TokenInfo {
  /** e.g. `tokAb12Cd34Ef56`; the token itself is `lapis_<id>_<secret>`. */
  id: string;
  name: string;
  /** The user or service principal it authenticates as. */
  principal: string;
  created_at: number;
  /** Null when it never expires. */
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

/** A token just created: the only time the secret `token` is sent. */
export interface NewToken extends TokenInfo {
  token: string;
}

export interface TokenList {
  tokens: TokenInfo[];
}

export interface PrincipalSummary {
  id: string;
  name: string;
  kind: PrincipalKind;
  is_admin: boolean;
}

export interface PrincipalInfo extends PrincipalSummary {
  display_name: string;
  disabled: boolean;
  created_at: number;
}

/** Users and service principals. */
export interface PrincipalList {
  principals: PrincipalInfo[];
}

export interface NewServicePrincipal {
  principal: PrincipalSummary;
  /** Its first token, shown this once. */
  token: NewToken;
}

/** A role definition: `actions` minus `not_actions`. */
export interface RoleDefinition {
  name: string;
  description: string;
  /** Action patterns the role allows, e.g. `runs/read`, `jobs/*`, `*\/read`, `*`. */
  actions: string[];
  /** Patterns taken away from `actions`. */
  not_actions: string[];
  built_in: boolean;
}

export interface RoleList {
  roles: RoleDefinition[];
}

/** What `roles.define` sends (snake_case, as the API takes it). */
export interface RoleSpec {
  name: string;
  description?: string;
  actions: string[];
  not_actions?: string[];
}

export interface RoleAssignment {
  /** The user or service principal name. */
  principal: string;
  kind: PrincipalKind;
  role: string;
  created_at: number;
}

export interface RoleAssignmentList {
  workspace: string;
  assignments: RoleAssignment[];
}

export interface RoleAssignmentChange {
  workspace: string;
  principal: string;
  role: string;
}

export interface AuditEntry {
  id: number;
  time: number;
  /** The principal name, or `anonymous`. */
  principal: string;
  workspace: string | null;
  /** e.g. `roles/write`. */
  action: string;
  /** Identifying fields of the request, e.g. `principal=ana role=Reader`. */
  resource: string;
  outcome: 'allowed' | 'denied' | 'failed';
  /** The HTTP status of the answer. */
  status: number;
  client_ip: string;
  request_id: string;
  method: string;
  path: string;
}

export interface AuditList {
  /** Newest first. */
  entries: AuditEntry[];
}

export interface ListAuditOptions {
  /** How far back, e.g. `1d`, `12h`, `90m`. */
  since?: string;
  principal?: string;
  /** An exact action, e.g. `roles/write`. */
  action?: string;
  /** At most this many entries (1–10000; the server default is 1000). */
  limit?: number;
  /** Every workspace instead of the client's (server admins only). */
  all?: boolean;
}

export interface CreateTokenOptions {
  name?: string;
  /** Lifetime, e.g. `30d`, `12h`; the token never expires when absent. */
  expires?: string;
  /** Another principal's name (server admins only); the caller by default. */
  principal?: string;
}

export interface CreateUserOptions {
  password?: string;
  admin?: boolean;
  displayName?: string;
}

// ---- assets: data, environments, components, models, registries ---------------------------------

/** The asset kinds with plain versioned specs (models live in the MLflow registry). */
export type PlainAssetKind = 'data' | 'environment' | 'component';

/** A data asset, environment or component version. Versions are immutable. */
export interface AssetVersion {
  kind: PlainAssetKind;
  name: string;
  version: string;
  description?: string;
  tags: Record<string, string>;
  /** The spec as created (defaults applied, `version` filled in). */
  spec: Record<string, unknown>;
  /** Hash of the uploaded files (data folder, code snapshot, build context), if any. */
  content_hash?: string;
  /** Hash of what the asset does (for environments: image + conda + build + python). */
  spec_hash: string;
  created_at: number;
  created_by: string;
  archived: boolean;
  /** A workspace name, or `registry/<name>`. */
  scope: string;
  /** `azureml:<name>:<version>`, or `azureml://registries/<r>/<kind>/<name>/versions/<v>`. */
  reference: string;
  /** For versions shared to a registry: where they came from. */
  lineage?: { shared_from?: { workspace: string; name: string; version: string }; lineage?: unknown } | null;
}

/** A model version (the MLflow registry's view, plus the Azure ML fields). */
export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id?: string;
  current_stage: string;
  description?: string;
  source: string;
  run_id?: string;
  status: string;
  status_message?: string;
  tags: KeyValue[];
  run_link?: string;
  aliases: string[];
  model_id?: string;
  /** custom_model, mlflow_model or triton_model. */
  model_type?: string;
  archived?: boolean;
  /** The where-from snapshot of a version shared to a registry; with `show --lineage`, the whole graph. */
  lineage?: unknown;
}

export interface RegisteredModel {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id?: string;
  description?: string;
  latest_versions: ModelVersion[];
  tags: KeyValue[];
  aliases: { alias: string; version: string }[];
}

export interface LineageNode {
  id: string;
  kind: 'model_version' | 'run' | 'experiment' | 'logged_model' | 'dataset' | 'data' | 'environment' | 'code' | 'registry_model' | 'deployment';
  label: string;
  ref?: string;
}

/** Where a model version came from: edges point from a node to what it came from. */
export interface LineageGraph {
  root: string;
  nodes: LineageNode[];
  edges: { from: string; to: string; kind: string }[];
}

export interface AssetFile {
  /** `/`-separated, relative to the asset's root. */
  path: string;
  size: number;
  sha256?: string;
}

export interface AssetFileList {
  files: AssetFile[];
}

/** One file of a content upload, as the manifest lists it. */
export interface ContentFile {
  path: string;
  sha256: string;
  size: number;
}

export interface ContentStatus {
  exists: boolean;
  /** When it exists: how many files, and their total size. */
  files?: number;
  size?: number;
}

export interface ContentCommit {
  hash: string;
  size: number;
  files: number;
}

/** A direct upload: a staging folder on the server's machine that a local client copies files into. */
export type DirectUpload = { direct: true; id: string; dir: string; tokenFile: string; token: string } | { direct: false; reason: string };

export interface Registry {
  name: string;
  description: string;
  created_at: number;
}

export interface RegistryList {
  registries: Registry[];
}

/** Where a call works: the client's workspace, or a registry. */
export interface ScopeOptions {
  registry?: string;
}

export interface ListAssetsOptions extends ScopeOptions {
  /** Every version of this name (newest first); without it, the latest version of each name. */
  name?: string;
  includeArchived?: boolean;
}

export interface ShareOptions {
  /** The registry to copy to. */
  registry: string;
  /** Name and version in the registry; the source's by default. */
  shareWithName?: string;
  shareWithVersion?: string;
}
