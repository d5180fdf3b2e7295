import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { openBlobStore, type BlobStore } from '../blobs/index.js';
import type { LapisConfig } from '../config/config.js';
import { isErrorCode, LapisError } from '../core/errors.js';
import type { Principal } from '../auth/service.js';
import { openDatabase, type Database } from '../store/db.js';
import { createTracking, type Tracking } from '../tracking/index.js';
import { artifactProxyRoutes } from '../tracking/routes/artifact-proxy.js';
import { loggedModelRoutes } from '../tracking/routes/logged-models.js';
import { mlflowErrorBody } from '../tracking/routes/mlflow-plugin.js';
import { trackingRoutes } from '../tracking/routes/tracking.js';
import { nativeTrackingRoutes } from '../tracking/routes/native.js';
import { workspaceRoutes } from '../workspaces/routes.js';
import { DEFAULT_WORKSPACE, WorkspaceService } from '../workspaces/service.js';
import { AuditLog } from '../auth/audit.js';
import { authRoutes } from '../auth/routes.js';
import { AuthService } from '../auth/service.js';
import { RateLimiter } from '../auth/throttle.js';
import { SecretBox } from '../auth/secrets.js';
import { join } from 'node:path';
import { countWorkspaceResources, purgeWorkspace } from '../tracking/purge.js';
import { registerAccess } from './access.js';
import { ModelRegistry } from '../registry/model-registry.js';
import { registryRoutes } from '../registry/routes.js';
import { assetRoutes } from '../registry/asset-routes.js';
import { AssetService } from '../registry/assets.js';
import { ContentStore } from '../registry/content.js';
import { ModelAssets } from '../registry/model-assets.js';
import { registerMetrics } from './metrics.js';
import { studioHandler } from './studio.js';
import { ComputeTargets } from '../compute/targets.js';
import { LocalExecutor } from '../compute/local.js';
import { JobController } from '../jobs/controller.js';
import { jobRoutes } from '../jobs/routes.js';
import { ModelPackaging } from '../jobs/packaging.js';
import { JobService } from '../jobs/service.js';
import { DatastoreService } from '../datastores/service.js';
import { datastoreRoutes } from '../datastores/routes.js';
import { ServingService } from '../serving/service.js';
import { servingRoutes } from '../serving/routes.js';
import { BatchService } from '../serving/batch.js';
import { batchRoutes } from '../serving/batch-routes.js';
import { scoreListener } from '../serving/score.js';
import './request-context.js';
import { LAPIS_VERSION, MLFLOW_COMPAT_VERSION } from './version.js';

export interface LapisServer {
  readonly app: FastifyInstance;
  readonly database: Database;
  readonly blobs: BlobStore;
  readonly tracking: Tracking;
  readonly workspaces: WorkspaceService;
  readonly auth: AuthService;
  readonly audit: AuditLog;
  /** Seals secrets at rest (datastore and endpoint keys) under the server key. */
  readonly secrets: SecretBox;
  /** Every registered route and the action it declares (the permission matrix is built from it). */
  readonly routes: readonly { method: string; url: string; action: string }[];
  /** Set on the first start with authentication on: the admin token, to be shown once. */
  readonly bootstrapToken: string | undefined;
  readonly jobs: JobService;
  readonly serving: ServingService;
  /**
   * Starts the job scheduler and the deployments once the server listens at `address` (task
   * runners call back there). Returns what the local executor runs jobs with, or the problem that
   * will fail them.
   */
  startBackground(address: string): Promise<string>;
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Refuses configurations that would expose an unauthenticated server beyond this machine. */
export function checkExposure(config: Pick<LapisConfig, 'host' | 'auth'>): void {
  if (config.auth === 'off' && !LOOPBACK.test(config.host)) {
    throw new LapisError(
      'INVALID_ARGUMENT',
      `Refusing to listen on ${config.host} with authentication off: anyone who can reach the port would be an administrator. ` +
        'Start with --auth on (or LAPIS_AUTH=on), or keep --host 127.0.0.1.',
    );
  }
}

const WORKSPACE_PREFIX = /^\/workspaces\/([^/?#]+)(?=[/?#]|$)/;
const WORKSPACE_HEADERS = ['x-lapis-workspace', 'x-mlflow-workspace'] as const;
type WorkspaceCarrier = IncomingMessage & { lapisWorkspace?: string };

/** MLflow clients must see MLflow's error shape; the native API sees Lapis's. */
const isMlflowPath = (url: string): boolean => /^\/(ajax-)?api\/[23]\.0\//.test(url);

export async function createServer(config: LapisConfig): Promise<LapisServer> {
  checkExposure(config);
  const database = await openDatabase(config.backendStoreUri);
  let blobs: BlobStore;
  try {
    blobs = await openBlobStore(config.artifactsDestination);
  } catch (err) {
    await database.close();
    throw err;
  }
  const tracking = createTracking(database, blobs);
  const workspaces = new WorkspaceService(database, (tx, ws, isDefault) => tracking.experiments.provisionDefault(tx, ws, isDefault));
  await workspaces.ensureDefault();
  const registry = new ModelRegistry(database, tracking);
  const content = new ContentStore(database, blobs);
  const assets = new AssetService(database, content);
  const auth = new AuthService(database);
  const secrets = SecretBox.load(process.env.LAPIS_SERVER_KEY, join(config.dataDir, 'server.key'));
  const bootstrapToken = config.auth === 'on' ? await bootstrapAdmin(auth) : undefined;
  const computes = new ComputeTargets(database, config.localSlots);
  const models = new ModelAssets({ registry, content, blobs, tracking });
  const datastores = new DatastoreService(blobs);
  const jobs = new JobService({ database, tracking, computes, assets, models, content, datastores });
  const serving = new ServingService({
    database,
    secrets,
    assets,
    models,
    registry,
    content,
    datastores,
    dataDir: config.dataDir,
    cacheDir: config.jobCacheDir,
    python: config.python,
    log: { error: (obj, msg) => app.log.error(obj, msg) },
  });
  let serverUrl = '';
  let controller: JobController | undefined;
  const batch = new BatchService({ database, assets, models, content, datastores, computes, jobs, serverUrl: () => serverUrl });

  const scoring = { serving, auth, authEnabled: config.auth === 'on', maxBodyBytes: config.maxRequestBytes };
  const app = Fastify({
    // Scoring requests skip Fastify: see src/serving/score.ts.
    serverFactory: (handler) =>
      createHttpServer(scoreListener({ ...scoring, onError: (err, endpoint) => app.log.error({ err, endpoint }, 'scoring request failed') }, handler)),
    logger: { level: config.logLevel, stream: process.stderr } as never,
    // One line per request is written by our onResponse hook, with the workspace and timing.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    bodyLimit: config.maxRequestBytes,
    // MLflow clients reach a workspace through a URL prefix: strip it before routing.
    rewriteUrl: (req) => {
      const url = req.url ?? '/';
      const match = WORKSPACE_PREFIX.exec(url);
      if (!match) return url;
      (req as WorkspaceCarrier).lapisWorkspace = decodeURIComponent(match[1] as string);
      return url.slice(match[0].length) || '/';
    },
  });

  const audit = new AuditLog(database, (err) => app.log.error({ err }, 'audit log write failed'));

  // JSON bodies: PostgreSQL text cannot hold NUL, so NUL is refused on every backend alike; and
  // text/plain is not JSON (Fastify would hand handlers a string), so it gets a 415 like any other.
  // Prototype-poisoning scans cost ~10% of log-batch ingestion; no handler merges request objects
  // into other objects' prototypes (spreading a parsed `__proto__` key copies it as a plain key).
  const parseJson = app.getDefaultJsonParser('ignore', 'ignore');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if ((body as string).includes('\\u0000')) {
      done(new LapisError('INVALID_ARGUMENT', 'The request contains a NUL character (\\u0000), which no field may hold. Remove it.'), undefined);
      return;
    }
    parseJson(req, body as string, done);
  });

  app.decorateRequest('workspaceName', '');
  app.decorateRequest('workspace', null as never);
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    if (/%00/.test(req.url)) throw new LapisError('INVALID_ARGUMENT', 'The URL contains a NUL character (%00). Remove it.');
    const header = WORKSPACE_HEADERS.map((h) => req.headers[h]).find((v) => typeof v === 'string' && v !== '') as string | undefined;
    req.workspaceName = (req.raw as WorkspaceCarrier).lapisWorkspace ?? header ?? DEFAULT_WORKSPACE;
  });
  registerAccess(app, { enabled: config.auth === 'on', auth, workspaces, audit, limiter: new RateLimiter(config.rateLimitPerMinute) });
  app.addHook('onResponse', async (req, reply) => {
    req.log.info({ method: req.method, url: req.url, workspace: req.workspaceName, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, 'request');
  });
  // Every route declares the permission it needs: the access-control layer checks it, and a route
  // that forgets it fails at start instead of being silently open.
  const routes: { method: string; url: string; action: string }[] = [];
  app.addHook('onRoute', (route) => {
    const action = route.config?.action;
    if (!action) throw new Error(`Route ${String(route.method)} ${route.url} declares no action (config.action).`);
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url, action });
  });

  app.setErrorHandler((err: FastifyError | LapisError, req, reply) => {
    const lapis = toLapisError(err);
    if (lapis.status >= 500) req.log.error({ err }, 'request failed');
    const body = isMlflowPath(req.url) ? mlflowErrorBody(lapis) : { error: lapis.toJSON() };
    return reply.status(lapis.status).send(body);
  });
  const studio = studioHandler();
  app.setNotFoundHandler(async (req, reply) => {
    if (await studio(req, reply)) return reply;
    const err = new LapisError('ENDPOINT_NOT_FOUND', `No route ${req.method} ${req.url} on this server. The native API is described at /api/v1/openapi.json.`);
    return reply.status(404).send(isMlflowPath(req.url) ? mlflowErrorBody(err) : { error: err.toJSON() });
  });

  await app.register(swagger, {
    openapi: { info: { title: 'Lapis API', version: LAPIS_VERSION, description: 'The native Lapis API. MLflow clients use the MLflow REST API under /api/2.0/mlflow.' } },
    // The OpenAPI document describes the native API; MLflow's RPCs are documented by MLflow.
    transform: ({ schema, url }) => ({ schema: { ...(schema ?? {}), hide: !url.startsWith('/api/v1') }, url }),
  });

  registerMetrics(app, () => serving.stats.prometheus());
  app.get('/health', { config: { action: 'server/health' } }, async (_req, reply) => reply.type('text/plain').send('OK'));
  app.get('/version', { config: { action: 'server/health' } }, async (_req, reply) => reply.type('text/plain').send(MLFLOW_COMPAT_VERSION));
  app.get('/api/3.0/mlflow/server-info', { config: { action: 'server/health' } }, async () => ({
    server_type: 'lapis',
    version: MLFLOW_COMPAT_VERSION,
    lapis_version: LAPIS_VERSION,
    workspaces_enabled: true,
  }));
  const visible = async (principal: Principal | undefined): Promise<(name: string) => boolean> => {
    if (!principal || principal.isAdmin) return () => true;
    const member = await auth.memberWorkspaces(principal);
    return (name) => member.has(name);
  };
  app.get('/api/3.0/mlflow/workspaces', { config: { action: 'self/read' } }, async (req) => {
    const canSee = await visible(req.principal);
    return { workspaces: (await workspaces.list()).filter((w) => canSee(w.name)).map((w) => ({ name: w.name, description: w.description })) };
  });
  app.get('/api/3.0/mlflow/workspaces/:name', { config: { action: 'workspaces/read', workspaceParam: 'name' } }, async (req) => ({
    workspace: { name: req.workspace.name, description: req.workspace.description },
  }));

  trackingRoutes(app, tracking);
  loggedModelRoutes(app, tracking);
  registryRoutes(app, registry);
  await app.register(async (scope) => assetRoutes(scope, { database, assets, content, registry, models }));
  jobRoutes(app, { database, jobs, packaging: new ModelPackaging({ jobs, models, content }), computes, content, serverUrl: () => serverUrl });
  datastoreRoutes(app, datastores);
  await app.register(async (scope) => servingRoutes(scope, scoring));
  batchRoutes(app, batch);
  await app.register(async (scope) => artifactProxyRoutes(scope, tracking));
  workspaceRoutes(app, {
    workspaces,
    visible,
    resources: async (name) => ({ ...(await countWorkspaceResources(database, name)), registered_models: await registry.countModels(name), assets: await assets.countIn(name) }),
    purge: async (name) => {
      await serving.purge(name);
      await batch.purge(name);
      await registry.purgeWorkspace(name);
      await jobs.purge(name);
      await computes.purge(name);
      await assets.purge(name);
      await purgeWorkspace(database, blobs, name);
      tracking.metrics.cache.clear();
      tracking.metrics.chartCache.clear();
      await auth.removeWorkspace(name);
    },
  });
  authRoutes(app, { auth, audit, enabled: config.auth === 'on' });
  nativeTrackingRoutes(app, tracking);
  app.get('/api/v1/openapi.json', { config: { action: 'server/health' }, schema: { hide: true } }, async () => app.swagger());
  app.get('/api/v1/version', { config: { action: 'server/health' }, schema: { summary: 'Server version', tags: ['server'] } }, async () => ({ lapis: LAPIS_VERSION, mlflow_api: MLFLOW_COMPAT_VERSION }));

  await app.ready();
  return {
    app,
    database,
    blobs,
    tracking,
    workspaces,
    auth,
    audit,
    secrets,
    routes,
    bootstrapToken,
    jobs,
    serving,
    async startBackground(address: string) {
      // Runners on this machine call back over loopback whatever address the server binds.
      serverUrl = address.replace(/\/\/(0\.0\.0\.0|\[::\])(?=[:/]|$)/, '//127.0.0.1');
      const executor = new LocalExecutor({ python: config.python, dataDir: config.dataDir, cacheDir: config.jobCacheDir });
      const python = await executor.pythonVersion().then(
        (version) => `${config.localSlots} local slot${config.localSlots === 1 ? '' : 's'}, Python ${version} (${config.python})`,
        (err: unknown) => {
          app.log.warn({ err }, 'jobs will fail until the job Python is fixed');
          return `WARNING: ${(err as Error).message}`;
        },
      );
      controller = new JobController({
        jobs,
        computes,
        executor,
        ...(config.auth === 'on' ? { auth } : {}),
        log: app.log,
      });
      await controller.start(serverUrl);
      await serving.start(serverUrl);
      return python;
    },
    async close() {
      await controller?.close();
      await serving.close();
      await app.close();
      await audit.flush();
      await blobs.close();
      await database.close();
    },
  };
}

/**
 * First start with authentication on: create the `admin` user (password from LAPIS_ADMIN_PASSWORD
 * if set) and a token that is shown once and never stored in clear.
 */
async function bootstrapAdmin(auth: AuthService): Promise<string | undefined> {
  if (await auth.hasAdmin()) return undefined;
  const admin = await auth.createPrincipal({ name: 'admin', kind: 'user', admin: true, password: process.env.LAPIS_ADMIN_PASSWORD || undefined });
  return (await auth.createToken(admin.id, 'bootstrap')).token;
}

/** A unique-key violation that escaped a service's own check (two requests racing). */
function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Fastify's own failures (bad JSON, wrong content type, body too large) become Lapis errors. */
function toLapisError(err: FastifyError | LapisError): LapisError {
  if (err instanceof LapisError) return err;
  const code = (err as FastifyError).code;
  const status = (err as FastifyError).statusCode;
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new LapisError('UNSUPPORTED_MEDIA_TYPE', `${err.message}. Send JSON with 'Content-Type: application/json'.`);
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new LapisError('PAYLOAD_TOO_LARGE', `${err.message}. Split the request into smaller ones.`);
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new LapisError('BAD_REQUEST', `${err.message}. Send a JSON object, at least {}.`);
  if ((err as FastifyError).validation) return new LapisError('INVALID_ARGUMENT', err.message);
  if (isUniqueViolation(err)) return new LapisError('CONFLICT', 'A concurrent request created the same resource; retry to see it.');
  if (err instanceof SyntaxError || code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return new LapisError('BAD_REQUEST', `Malformed request body: ${err.message}`);
  if (status && status >= 400 && status < 500) return new LapisError(status === 404 ? 'NOT_FOUND' : status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST', err.message);
  const maybe = (err as { code?: unknown }).code;
  if (isErrorCode(maybe)) return new LapisError(maybe, err.message);
  return new LapisError('INTERNAL', `Internal error: ${err.message}`);
}
