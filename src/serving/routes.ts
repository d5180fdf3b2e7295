import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { LapisError } from '../core/errors.js';
import { keyMatches, type ServingService } from './service.js';

const tags = ['endpoints'];
const user = (req: FastifyRequest): string => req.principal?.name ?? 'anonymous';
const EpName = Type.Object({ name: Type.String() });
const DepName = Type.Object({ endpoint: Type.String(), name: Type.String() });

/** Management of endpoints and deployments (the native API), and the scoring route. */
export async function servingRoutes(app: FastifyInstance, deps: { serving: ServingService; auth: AuthService; authEnabled: boolean; maxBodyBytes: number }): Promise<void> {
  const { serving } = deps;

  app.post('/api/v1/online-endpoints', { config: { action: 'endpoints/write' }, schema: { summary: 'Create an online endpoint (Azure ML endpoint spec as JSON)', tags, body: Type.Object({ spec: Type.Unknown() }) } }, async (req, reply) =>
    reply.status(201).send(await serving.createEndpoint(req.workspace.name, (req.body as { spec: unknown }).spec, user(req))),
  );
  app.get('/api/v1/online-endpoints', { config: { action: 'endpoints/read' }, schema: { summary: 'List online endpoints', tags } }, async (req) => ({ endpoints: await serving.listEndpoints(req.workspace.name) }));
  app.get('/api/v1/online-endpoints/:name', { config: { action: 'endpoints/read' }, schema: { summary: 'Get an online endpoint with its deployments', tags, params: EpName } }, async (req) =>
    serving.getEndpoint(req.workspace.name, (req.params as { name: string }).name),
  );
  app.patch(
    '/api/v1/online-endpoints/:name',
    {
      config: { action: 'endpoints/write' },
      schema: {
        summary: 'Update an endpoint: its live and mirrored traffic',
        tags,
        params: EpName,
        body: Type.Object({ traffic: Type.Optional(Type.Record(Type.String(), Type.Integer())), mirror_traffic: Type.Optional(Type.Record(Type.String(), Type.Integer())) }),
      },
    },
    async (req) => serving.updateEndpoint(req.workspace.name, (req.params as { name: string }).name, req.body as { traffic?: unknown; mirror_traffic?: unknown }),
  );
  app.delete('/api/v1/online-endpoints/:name', { config: { action: 'endpoints/delete' }, schema: { summary: 'Delete an endpoint and its deployments', tags, params: EpName } }, async (req) => {
    await serving.deleteEndpoint(req.workspace.name, (req.params as { name: string }).name);
    return {};
  });
  app.post('/api/v1/online-endpoints/:name/keys', { config: { action: 'endpoints/write' }, schema: { summary: "An endpoint's keys (a secret: write access required)", tags, params: EpName } }, async (req) =>
    serving.keys(req.workspace.name, (req.params as { name: string }).name),
  );
  app.post(
    '/api/v1/online-endpoints/:name/regenerate-keys',
    { config: { action: 'endpoints/write' }, schema: { summary: 'Replace the primary or the secondary key', tags, params: EpName, body: Type.Object({ key_type: Type.String() }) } },
    async (req) => serving.regenerateKey(req.workspace.name, (req.params as { name: string }).name, (req.body as { key_type: string }).key_type),
  );

  app.post(
    '/api/v1/online-endpoints/:endpoint/deployments',
    {
      config: { action: 'endpoints/write' },
      schema: { summary: 'Create a deployment (it comes up in the background: Creating → Succeeded | Failed)', tags, params: Type.Object({ endpoint: Type.String() }), body: Type.Object({ spec: Type.Unknown(), code: Type.Optional(Type.String()), all_traffic: Type.Optional(Type.Boolean()) }) },
    },
    async (req, reply) => {
      const b = req.body as { spec: unknown; code?: string; all_traffic?: boolean };
      const endpoint = (req.params as { endpoint: string }).endpoint;
      const spec = b.spec && typeof b.spec === 'object' ? { ...(b.spec as object), endpoint_name: (b.spec as { endpoint_name?: string }).endpoint_name ?? endpoint } : b.spec;
      if ((spec as { endpoint_name?: string } | undefined)?.endpoint_name !== endpoint) throw new LapisError('INVALID_ARGUMENT', `The spec names endpoint '${String((spec as { endpoint_name?: string }).endpoint_name)}' but the URL names '${endpoint}'.`);
      return reply.status(201).send(await serving.createDeployment(req.workspace.name, spec, b.code ? { code: b.code } : {}, user(req), { allTraffic: b.all_traffic === true }));
    },
  );
  app.put(
    '/api/v1/online-endpoints/:endpoint/deployments/:name',
    { config: { action: 'endpoints/write' }, schema: { summary: 'Update a deployment: a rolling replacement of its instances', tags, params: DepName, body: Type.Object({ spec: Type.Unknown(), code: Type.Optional(Type.String()) }) } },
    async (req) => {
      const p = req.params as { endpoint: string; name: string };
      const b = req.body as { spec: unknown; code?: string };
      const spec = b.spec && typeof b.spec === 'object' ? { endpoint_name: p.endpoint, name: p.name, ...(b.spec as object) } : b.spec;
      const named = spec as { endpoint_name?: string; name?: string } | undefined;
      if (named?.endpoint_name !== p.endpoint || named.name !== p.name) throw new LapisError('INVALID_ARGUMENT', `The spec names ${String(named?.endpoint_name)}/${String(named?.name)} but the URL names ${p.endpoint}/${p.name}.`);
      return serving.updateDeployment(req.workspace.name, spec, b.code ? { code: b.code } : {});
    },
  );
  app.get('/api/v1/online-endpoints/:endpoint/deployments', { config: { action: 'endpoints/read' }, schema: { summary: "List an endpoint's deployments", tags, params: Type.Object({ endpoint: Type.String() }) } }, async (req) => ({
    deployments: await serving.listDeployments(req.workspace.name, (req.params as { endpoint: string }).endpoint),
  }));
  app.get('/api/v1/online-endpoints/:endpoint/deployments/:name', { config: { action: 'endpoints/read' }, schema: { summary: 'Get a deployment, its state and instances', tags, params: DepName } }, async (req) => {
    const p = req.params as { endpoint: string; name: string };
    return serving.getDeployment(req.workspace.name, p.endpoint, p.name);
  });
  app.delete('/api/v1/online-endpoints/:endpoint/deployments/:name', { config: { action: 'endpoints/delete' }, schema: { summary: 'Delete a deployment (refused while it takes traffic)', tags, params: DepName } }, async (req) => {
    const p = req.params as { endpoint: string; name: string };
    await serving.deleteDeployment(req.workspace.name, p.endpoint, p.name);
    return {};
  });
  app.get(
    '/api/v1/online-endpoints/:endpoint/deployments/:name/logs',
    { config: { action: 'endpoints/read' }, schema: { summary: "A deployment's log: environment build and scoring processes", tags, params: DepName, querystring: Type.Object({ lines: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })) }) } },
    async (req) => {
      const p = req.params as { endpoint: string; name: string };
      return { log: await serving.logs(req.workspace.name, p.endpoint, p.name, (req.query as { lines?: number }).lines ?? 200) };
    },
  );

  // Scoring: raw bodies of any type go to the scoring host untouched.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: deps.maxBodyBytes }, (_req, body, done) => done(null, body));
    scope.post('/endpoints/:name/score', { config: { action: 'endpoints/score' }, schema: { summary: 'Score: the endpoint key (or a token) as a bearer credential; header azureml-model-deployment pins a deployment', tags } }, async (req, reply) =>
      score(req, reply, deps),
    );
  });
}

async function score(req: FastifyRequest, reply: FastifyReply, deps: { serving: ServingService; auth: AuthService; authEnabled: boolean }): Promise<FastifyReply> {
  const name = (req.params as { name: string }).name;
  const route = deps.serving.routing(name);
  if (!route) throw new LapisError('NOT_FOUND', `No online endpoint '${name}'.`);
  const header = req.headers.authorization;
  const credential = typeof header === 'string' && /^bearer /i.test(header) ? header.slice(7).trim() : undefined;
  if (route.authMode === 'key') {
    if (!credential || !keyMatches(route.keys, credential)) {
      throw new LapisError('UNAUTHENTICATED', `Endpoint '${name}' needs one of its keys as "Authorization: Bearer <key>" (lapis online-endpoint get-credentials --name ${name}).`);
    }
  } else if (deps.authEnabled) {
    const principal = await deps.auth.authenticate(header);
    if (!principal) throw new LapisError('UNAUTHENTICATED', `Endpoint '${name}' needs a Lapis token as "Authorization: Bearer <token>".`);
    const decision = await deps.auth.access(principal, 'endpoints/read', route.workspace);
    if (decision !== 'allowed') throw new LapisError('PERMISSION_DENIED', `'${principal.name}' may not call endpoint '${name}'.`);
  }
  const pinned = req.headers['azureml-model-deployment'];
  let deployment: string | undefined;
  if (typeof pinned === 'string' && pinned !== '') {
    if (!route.deployments.has(pinned)) throw new LapisError('NOT_FOUND', `Endpoint '${name}' has no deployment '${pinned}' (header azureml-model-deployment).`);
    deployment = pinned;
  } else {
    deployment = pickByTraffic(route.traffic);
    if (!deployment) throw new LapisError('UNAVAILABLE', `Endpoint '${name}' sends no traffic anywhere: set it with lapis online-endpoint update --name ${name} --traffic "<deployment>=100".`);
  }
  const started = performance.now();
  let status = 500;
  try {
    const res = await send(deps.serving, name, deployment, req.body as Buffer | undefined, String(req.headers['content-type'] ?? 'application/json'), route.deployments.get(deployment)?.timeoutMs ?? 5000, reply);
    status = res.status;
    // Shadow testing: only unpinned requests are copied; the client never sees the mirror's answer.
    if (!pinned && route.mirror && Math.random() * 100 < route.mirror[1]) void mirror(deps.serving, name, route.mirror[0], req, route.deployments.get(route.mirror[0])?.timeoutMs ?? 5000);
    return reply.status(res.status).header('content-type', res.contentType).header('azureml-model-deployment', deployment).send(res.body);
  } catch (err) {
    if (err instanceof LapisError) status = err.status;
    throw err;
  } finally {
    deps.serving.stats.record(name, deployment, status, performance.now() - started);
  }
}

/** One request to a ready instance of a deployment: its answer, or a LapisError that says why not. */
async function send(serving: ServingService, endpoint: string, deployment: string, body: Buffer | undefined, contentType: string, timeoutMs: number, reply?: FastifyReply): Promise<{ status: number; contentType: string; body: Buffer }> {
  const key = `${endpoint}/${deployment}`;
  const inst = serving.runtime.pick(key);
  if (inst === 'none-ready') throw new LapisError('UNAVAILABLE', `Deployment '${deployment}' has no ready instance right now (see lapis online-deployment show --name ${deployment} --endpoint-name ${endpoint}).`);
  if (inst === 'busy') {
    reply?.header('Retry-After', '1');
    throw new LapisError('RESOURCE_EXHAUSTED', `Deployment '${deployment}' is at its limit of ${serving.runtime.maxConcurrent(key)} concurrent request(s) per instance; retry, or raise request_settings.max_concurrent_requests_per_instance or instance_count.`);
  }
  inst.inflight += 1;
  try {
    return await inst.score(body, contentType, timeoutMs);
  } catch (err) {
    if ((err as Error).message === 'timeout') throw new LapisError('REQUEST_TIMEOUT', `The request took longer than request_timeout_ms (${timeoutMs} ms) on deployment '${deployment}'.`);
    throw new LapisError('BAD_GATEWAY', `Deployment '${deployment}' failed to answer: its scoring ${serving.runtime.kind(key) === 'onnx' ? 'worker thread' : 'process'} ended while handling the request (${(err as Error).message}); it is being restarted.`);
  } finally {
    inst.inflight -= 1;
  }
}

/** A copy of the request to the mirror deployment; its answer and its failures are only counted. */
async function mirror(serving: ServingService, endpoint: string, deployment: string, req: FastifyRequest, timeoutMs: number): Promise<void> {
  const started = performance.now();
  let status = 500;
  try {
    status = (await send(serving, endpoint, deployment, req.body as Buffer | undefined, String(req.headers['content-type'] ?? 'application/json'), timeoutMs)).status;
  } catch (err) {
    if (err instanceof LapisError) status = err.status;
  } finally {
    serving.stats.record(endpoint, deployment, status, performance.now() - started);
  }
}

/** Weighted random choice among the deployments taking traffic. */
function pickByTraffic(traffic: readonly [string, number][]): string | undefined {
  const total = traffic.reduce((n, [, pct]) => n + pct, 0);
  if (total <= 0) return undefined;
  let r = Math.random() * total;
  for (const [name, pct] of traffic) {
    r -= pct;
    if (r < 0) return name;
  }
  return traffic[traffic.length - 1]?.[0];
}
