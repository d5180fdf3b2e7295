import type { LapisClient } from './index.js';
import { segment as seg } from './paths.js';
import type { Job } from './jobs.js';

/** Batch endpoints, their deployments and invocations over the native API (types mirror the server's JSON). */

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

export interface BatchEndpoint {
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

export interface BatchDeployment {
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

export type BatchInputType = 'uri_folder' | 'uri_file' | 'mltable';

export interface BatchInvocation {
  /** azureml:<data>:<version>, a datastore path or an http(s) URL; or the local path whose upload hash is `upload`. */
  input: string;
  upload?: string;
  inputType?: BatchInputType;
  deploymentName?: string;
  outputPath?: string;
  miniBatchSize?: number;
  jobName?: string;
  experimentName?: string;
}

export class BatchEndpointsApi {
  readonly #c: LapisClient;
  constructor(client: LapisClient) {
    this.#c = client;
  }

  async create(spec: Record<string, unknown>): Promise<BatchEndpoint> {
    return this.#c.request('POST', '/api/v1/batch-endpoints', { body: { spec } });
  }

  async update(name: string, spec: Record<string, unknown>): Promise<BatchEndpoint> {
    return this.#c.request('PUT', `/api/v1/batch-endpoints/${seg('endpoint name', name)}`, { body: { spec } });
  }

  async list(): Promise<BatchEndpoint[]> {
    return (await this.#c.request<{ endpoints: BatchEndpoint[] }>('GET', '/api/v1/batch-endpoints')).endpoints;
  }

  async get(name: string): Promise<BatchEndpoint> {
    return this.#c.request('GET', `/api/v1/batch-endpoints/${seg('endpoint name', name)}`);
  }

  async delete(name: string): Promise<void> {
    await this.#c.request('DELETE', `/api/v1/batch-endpoints/${seg('endpoint name', name)}`);
  }

  /** Starts a scoring job over the input; resolves with the job (follow it with `jobs.follow`). */
  async invoke(name: string, inv: BatchInvocation): Promise<Job> {
    return this.#c.request('POST', `/api/v1/batch-endpoints/${seg('endpoint name', name)}/invoke`, {
      body: {
        input: inv.input,
        ...(inv.upload ? { uploads: { input: inv.upload } } : {}),
        ...(inv.inputType ? { input_type: inv.inputType } : {}),
        ...(inv.deploymentName ? { deployment_name: inv.deploymentName } : {}),
        ...(inv.outputPath ? { output_path: inv.outputPath } : {}),
        ...(inv.miniBatchSize !== undefined ? { mini_batch_size: inv.miniBatchSize } : {}),
        ...(inv.jobName ? { job_name: inv.jobName } : {}),
        ...(inv.experimentName ? { experiment_name: inv.experimentName } : {}),
      },
    });
  }

  async jobs(name: string, maxResults?: number): Promise<Job[]> {
    return (await this.#c.request<{ jobs: Job[] }>('GET', `/api/v1/batch-endpoints/${seg('endpoint name', name)}/jobs`, { query: { max_results: maxResults } })).jobs;
  }

  async createDeployment(endpoint: string, spec: Record<string, unknown>, opts: { code?: string; setDefault?: boolean } = {}): Promise<BatchDeployment> {
    return this.#c.request('POST', `/api/v1/batch-endpoints/${seg('endpoint name', endpoint)}/deployments`, {
      body: { spec, ...(opts.code ? { code: opts.code } : {}), ...(opts.setDefault ? { set_default: true } : {}) },
    });
  }

  async updateDeployment(endpoint: string, name: string, spec: Record<string, unknown>, opts: { code?: string; setDefault?: boolean } = {}): Promise<BatchDeployment> {
    return this.#c.request('PUT', `/api/v1/batch-endpoints/${seg('endpoint name', endpoint)}/deployments/${seg('deployment name', name)}`, {
      body: { spec, ...(opts.code ? { code: opts.code } : {}), ...(opts.setDefault ? { set_default: true } : {}) },
    });
  }

  async deployments(endpoint: string): Promise<BatchDeployment[]> {
    return (await this.#c.request<{ deployments: BatchDeployment[] }>('GET', `/api/v1/batch-endpoints/${seg('endpoint name', endpoint)}/deployments`)).deployments;
  }

  async deployment(endpoint: string, name: string): Promise<BatchDeployment> {
    return this.#c.request('GET', `/api/v1/batch-endpoints/${seg('endpoint name', endpoint)}/deployments/${seg('deployment name', name)}`);
  }

  async deleteDeployment(endpoint: string, name: string): Promise<void> {
    await this.#c.request('DELETE', `/api/v1/batch-endpoints/${seg('endpoint name', endpoint)}/deployments/${seg('deployment name', name)}`);
  }
}
