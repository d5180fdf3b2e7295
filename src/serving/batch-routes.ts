import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LapisError } from '../core/errors.js';
import type { BatchService, InvokeRequest } from './batch.js';

const tags = ['batch endpoints'];
const EpName = Type.Object({ name: Type.String() });
const Endpoint = Type.Object({ endpoint: Type.String() });
const DepName = Type.Object({ endpoint: Type.String(), name: Type.String() });
const user = (req: FastifyRequest) => ({ name: req.principal?.name ?? 'anonymous', id: req.principal && req.principal.kind !== 'local' ? req.principal.id : null });

const InvokeBody = Type.Object({
  input: Type.String({ description: 'azureml:<data>:<version>, a datastore path, an http(s) URL, or (with uploads.input) the local path the client uploaded' }),
  input_type: Type.Optional(Type.String({ description: 'uri_folder (score its files), uri_file (score the rows of a CSV or Parquet file) or mltable (score the rows of the table its MLTable file describes); default: the data asset\'s type' })),
  deployment_name: Type.Optional(Type.String({ description: "default: the endpoint's default deployment" })),
  output_path: Type.Optional(Type.String({ description: 'also write the output to azureml://datastores/workspaceblobstore/paths/<path>' })),
  mini_batch_size: Type.Optional(Type.Integer({ minimum: 1, description: "overrides the deployment's" })),
  job_name: Type.Optional(Type.String()),
  experiment_name: Type.Optional(Type.String({ description: "default: the endpoint's name" })),
  uploads: Type.Optional(Type.Object({ input: Type.Optional(Type.String()) })),
});

/** Batch endpoints and deployments (the native API), invocations (there and at /batch-endpoints/<name>/invoke), their jobs. */
export function batchRoutes(app: FastifyInstance, batch: BatchService): void {
  const name = (req: FastifyRequest): string => (req.params as { name: string }).name;

  app.post('/api/v1/batch-endpoints', { config: { action: 'endpoints/write' }, schema: { summary: 'Create a batch endpoint (Azure ML batch endpoint spec as JSON)', tags, body: Type.Object({ spec: Type.Unknown() }) } }, async (req, reply) =>
    reply.status(201).send(await batch.createEndpoint(req.workspace.name, (req.body as { spec: unknown }).spec, user(req).name)),
  );
  app.get('/api/v1/batch-endpoints', { config: { action: 'endpoints/read' }, schema: { summary: 'List batch endpoints', tags } }, async (req) => ({ endpoints: await batch.listEndpoints(req.workspace.name) }));
  app.get('/api/v1/batch-endpoints/:name', { config: { action: 'endpoints/read' }, schema: { summary: 'Get a batch endpoint', tags, params: EpName } }, async (req) => batch.getEndpoint(req.workspace.name, name(req)));
  app.put('/api/v1/batch-endpoints/:name', { config: { action: 'endpoints/write' }, schema: { summary: 'Update a batch endpoint from its spec (description, tags, defaults)', tags, params: EpName, body: Type.Object({ spec: Type.Unknown() }) } }, async (req) =>
    batch.updateEndpoint(req.workspace.name, name(req), (req.body as { spec: unknown }).spec),
  );
  app.delete('/api/v1/batch-endpoints/:name', { config: { action: 'endpoints/delete' }, schema: { summary: 'Delete a batch endpoint and its deployments (their jobs stay)', tags, params: EpName } }, async (req) => {
    await batch.deleteEndpoint(req.workspace.name, name(req));
    return {};
  });

  const DeploymentBody = Type.Object({ spec: Type.Unknown(), code: Type.Optional(Type.String()), set_default: Type.Optional(Type.Boolean()) });
  app.post('/api/v1/batch-endpoints/:endpoint/deployments', { config: { action: 'endpoints/write' }, schema: { summary: 'Create a batch deployment (the first of an endpoint becomes its default)', tags, params: Endpoint, body: DeploymentBody } }, async (req, reply) => {
    const b = req.body as { spec: unknown; code?: string; set_default?: boolean };
    const endpoint = (req.params as { endpoint: string }).endpoint;
    const spec = b.spec && typeof b.spec === 'object' ? { endpoint_name: endpoint, ...(b.spec as object) } : b.spec;
    if ((spec as { endpoint_name?: unknown } | undefined)?.endpoint_name !== endpoint) throw new LapisError('INVALID_ARGUMENT', `The spec names endpoint '${String((spec as { endpoint_name?: unknown }).endpoint_name)}' but the URL names '${endpoint}'.`);
    return reply.status(201).send(await batch.createDeployment(req.workspace.name, spec, b.code ? { code: b.code } : {}, user(req).name, { setDefault: b.set_default === true }));
  });
  app.put('/api/v1/batch-endpoints/:endpoint/deployments/:name', { config: { action: 'endpoints/write' }, schema: { summary: 'Update a batch deployment from its spec (later jobs use it)', tags, params: DepName, body: DeploymentBody } }, async (req) => {
    const p = req.params as { endpoint: string; name: string };
    const b = req.body as { spec: unknown; code?: string; set_default?: boolean };
    const spec = b.spec && typeof b.spec === 'object' ? { endpoint_name: p.endpoint, name: p.name, ...(b.spec as object) } : b.spec;
    const named = spec as { endpoint_name?: unknown; name?: unknown } | undefined;
    if (named?.endpoint_name !== p.endpoint || named.name !== p.name) throw new LapisError('INVALID_ARGUMENT', `The spec names ${String(named?.endpoint_name)}/${String(named?.name)} but the URL names ${p.endpoint}/${p.name}.`);
    return batch.updateDeployment(req.workspace.name, spec, b.code ? { code: b.code } : {}, { setDefault: b.set_default === true });
  });
  app.get('/api/v1/batch-endpoints/:endpoint/deployments', { config: { action: 'endpoints/read' }, schema: { summary: "List a batch endpoint's deployments", tags, params: Endpoint } }, async (req) => ({
    deployments: await batch.listDeployments(req.workspace.name, (req.params as { endpoint: string }).endpoint),
  }));
  app.get('/api/v1/batch-endpoints/:endpoint/deployments/:name', { config: { action: 'endpoints/read' }, schema: { summary: 'Get a batch deployment and its effective settings', tags, params: DepName } }, async (req) => {
    const p = req.params as { endpoint: string; name: string };
    return batch.getDeployment(req.workspace.name, p.endpoint, p.name);
  });
  app.delete('/api/v1/batch-endpoints/:endpoint/deployments/:name', { config: { action: 'endpoints/delete' }, schema: { summary: 'Delete a batch deployment (not the default while others exist)', tags, params: DepName } }, async (req) => {
    const p = req.params as { endpoint: string; name: string };
    await batch.deleteDeployment(req.workspace.name, p.endpoint, p.name);
    return {};
  });

  // Azure ML's invocation URL, and the same under the native API.
  for (const url of ['/api/v1/batch-endpoints/:name/invoke', '/batch-endpoints/:name/invoke']) {
    app.post(url, { config: { action: 'endpoints/write' }, schema: { summary: 'Invoke: start a scoring job over the input (answers the job)', tags, params: EpName, body: InvokeBody } }, async (req, reply) =>
      reply.status(201).send(await batch.invoke(req.workspace, name(req), req.body as InvokeRequest, user(req))),
    );
  }
  app.get(
    '/api/v1/batch-endpoints/:name/jobs',
    { config: { action: 'endpoints/read' }, schema: { summary: "A batch endpoint's jobs, newest first", tags, params: EpName, querystring: Type.Object({ max_results: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) }) } },
    async (req) => ({ jobs: await batch.listJobs(req.workspace, name(req), (req.query as { max_results?: number }).max_results) }),
  );
}
