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
}

export interface ListArtifactsOptions {
  /** A directory under the run's artifact root; the root when absent. */
  path?: string;
  /** Every file below `path` (files only), instead of one directory level. */
  recursive?: boolean;
}
