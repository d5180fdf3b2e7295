import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { LapisError } from '../core/errors.js';
import { score } from './score.js';
import type { ServingService } from './service.js';

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
    {
      config: { action: 'endpoints/read' },
      schema: {
        summary: "A deployment's log: environment build and scoring processes",
        description: 'The last `lines` lines, or with `after` (an `offset` from an earlier answer) what was written since: poll with it to follow the log.',
        tags,
        params: DepName,
        querystring: Type.Object({ lines: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })), after: Type.Optional(Type.Integer({ minimum: 0 })) }),
      },
    },
    async (req) => {
      const p = req.params as { endpoint: string; name: string };
      const q = req.query as { lines?: number; after?: number };
      return serving.logs(req.workspace.name, p.endpoint, p.name, { lines: q.lines ?? 200, ...(q.after !== undefined ? { after: q.after } : {}) });
    },
  );

  // Scoring: raw bodies of any type go to the scoring host untouched.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: deps.maxBodyBytes }, (_req, body, done) => done(null, body));
    // Requests to /endpoints/<name>/score are answered by scoreListener before they reach Fastify;
    // this route documents them and serves the workspace-prefixed form of the URL.
    scope.post('/endpoints/:name/score', { config: { action: 'endpoints/score' }, schema: { summary: 'Score: the endpoint key (or a token) as a bearer credential; header azureml-model-deployment pins a deployment', tags } }, async (req, reply) => {
      const answer = await score(deps, (req.params as { name: string }).name, req.headers, (req.body as Buffer | undefined) ?? Buffer.alloc(0), String(req.id));
      return reply.status(answer.status).header('content-type', answer.contentType).header('azureml-model-deployment', answer.deployment).send(answer.body);
    });
  });
}
