import type { LapisClient } from './index.js';
import { segment as seg } from './paths.js';

/** Online endpoints and deployments over the native API, and scoring (types mirror the server's JSON). */

export interface OnlineDeployment {
  name: string;
  endpoint_name: string;
  state: 'Creating' | 'Updating' | 'Succeeded' | 'Failed';
  error: string | null;
  model: string;
  environment: string;
  instance_count: number;
  request_settings: { request_timeout_ms: number; max_concurrent_requests_per_instance: number };
  /** The probes in effect, in seconds (Azure ML's defaults where the YAML is silent); Python deployments only. */
  probes: Record<'liveness' | 'readiness', { initial_delay: number; period: number; timeout: number; success_threshold: number; failure_threshold: number }>;
  /** python: scoring processes; onnx: ONNX Runtime worker threads inside the server. */
  runtime: 'python' | 'onnx';
  /** Workers: scoring processes (Python, `pids`) or worker threads of the server (ONNX, no pids). */
  instances: { index: number; state: string; restarts: number; inflight: number; workers: { ready: number; total: number }; pids: number[]; error?: string }[];
  traffic: number;
  mirror_traffic: number;
  metrics: { requests: number; errors: number; error_rate: number; throttled: number; p50_ms: number | null; p95_ms: number | null; p99_ms: number | null; model_runs: number | null; requests_per_run: number | null };
  /** What the data collector records, and has written so far; null when it collects nothing. */
  data_collector: {
    sampling_rate: number;
    rolling_rate: 'minute' | 'hour' | 'day';
    /** Collection name → its datastore folder. */
    collections: Record<string, string>;
    records: Record<string, number>;
    dropped: number;
    last_write: number | null;
    last_error: string | null;
  } | null;
  created_at: number;
  created_by: string;
  updated_at: number;
  spec: Record<string, unknown>;
}

export interface OnlineEndpoint {
  name: string;
  auth_mode: string;
  scoring_uri: string;
  traffic: Record<string, number>;
  mirror_traffic: Record<string, number>;
  description?: string;
  tags: Record<string, string>;
  deployments: OnlineDeployment[];
  created_at: number;
  created_by: string;
}

export interface EndpointKeys {
  primaryKey: string;
  secondaryKey: string;
}

export class OnlineEndpointsApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  async create(spec: Record<string, unknown>): Promise<OnlineEndpoint> {
    return this.#c.request('POST', '/api/v1/online-endpoints', { body: { spec } });
  }

  async list(): Promise<OnlineEndpoint[]> {
    return (await this.#c.request<{ endpoints: OnlineEndpoint[] }>('GET', '/api/v1/online-endpoints')).endpoints;
  }

  async get(name: string): Promise<OnlineEndpoint> {
    return this.#c.request('GET', `/api/v1/online-endpoints/${seg('endpoint name', name)}`);
  }

  async update(name: string, patch: { traffic?: Record<string, number>; mirror_traffic?: Record<string, number> }): Promise<OnlineEndpoint> {
    return this.#c.request('PATCH', `/api/v1/online-endpoints/${seg('endpoint name', name)}`, { body: patch });
  }

  async delete(name: string): Promise<void> {
    await this.#c.request('DELETE', `/api/v1/online-endpoints/${seg('endpoint name', name)}`);
  }

  async keys(name: string): Promise<EndpointKeys> {
    return this.#c.request('POST', `/api/v1/online-endpoints/${seg('endpoint name', name)}/keys`, { body: {} });
  }

  async regenerateKey(name: string, keyType: 'primary' | 'secondary'): Promise<EndpointKeys> {
    return this.#c.request('POST', `/api/v1/online-endpoints/${seg('endpoint name', name)}/regenerate-keys`, { body: { key_type: keyType } });
  }

  /** Sends a scoring request with a credential (an endpoint key, or a token for aml_token endpoints); resolves with the raw response. */
  async invoke(name: string, body: string, opts: { credential: string; deployment?: string; contentType?: string }): Promise<Response> {
    return this.#c.send('POST', `/endpoints/${seg('endpoint name', name)}/score`, {
      scoped: false,
      rawBody: body,
      headers: {
        authorization: `Bearer ${opts.credential}`,
        'content-type': opts.contentType ?? 'application/json',
        ...(opts.deployment ? { 'azureml-model-deployment': opts.deployment } : {}),
      },
    });
  }

  async createDeployment(endpoint: string, spec: Record<string, unknown>, opts: { code?: string; allTraffic?: boolean } = {}): Promise<OnlineDeployment> {
    return this.#c.request('POST', `/api/v1/online-endpoints/${seg('endpoint name', endpoint)}/deployments`, {
      body: { spec, ...(opts.code ? { code: opts.code } : {}), ...(opts.allTraffic ? { all_traffic: true } : {}) },
    });
  }

  /** A rolling update: new instances come up before the old ones drain. */
  async updateDeployment(endpoint: string, name: string, spec: Record<string, unknown>, opts: { code?: string } = {}): Promise<OnlineDeployment> {
    return this.#c.request('PUT', `/api/v1/online-endpoints/${seg('endpoint name', endpoint)}/deployments/${seg('deployment name', name)}`, { body: { spec, ...(opts.code ? { code: opts.code } : {}) } });
  }

  async deployments(endpoint: string): Promise<OnlineDeployment[]> {
    return (await this.#c.request<{ deployments: OnlineDeployment[] }>('GET', `/api/v1/online-endpoints/${seg('endpoint name', endpoint)}/deployments`)).deployments;
  }

  async deployment(endpoint: string, name: string): Promise<OnlineDeployment> {
    return this.#c.request('GET', `/api/v1/online-endpoints/${seg('endpoint name', endpoint)}/deployments/${seg('deployment name', name)}`);
  }

  async deleteDeployment(endpoint: string, name: string): Promise<void> {
    await this.#c.request('DELETE', `/api/v1/online-endpoints/${seg('endpoint name', endpoint)}/deployments/${seg('deployment name', name)}`);
  }

  async deploymentLogs(endpoint: string, name: string, lines = 200): Promise<string> {
    return (await this.deploymentLog(endpoint, name, { lines })).log;
  }

  /** The log's last `lines` lines, or with `after` what was written since that offset; `offset` is where to read on. */
  deploymentLog(endpoint: string, name: string, opts: { lines?: number; after?: number }): Promise<{ log: string; offset: number }> {
    return this.#c.request('GET', `/api/v1/online-endpoints/${seg('endpoint name', endpoint)}/deployments/${seg('deployment name', name)}/logs`, { query: opts });
  }
}
