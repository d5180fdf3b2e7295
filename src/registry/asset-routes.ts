import { basename } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { LapisError, notFound } from '../core/errors.js';
import { contentTypeOf } from '../tracking/artifacts.js';
import type { Database } from '../store/db.js';
import { now } from '../core/clock.js';
import { alreadyExists, invalid } from '../core/errors.js';
import type { AssetService, PlainAssetKind } from './assets.js';
import type { ContentStore } from './content.js';
import { scopeOf, type ModelAssets } from './model-assets.js';
import type { ModelRegistry } from './model-registry.js';

export interface AssetRouteDeps {
  database: Database;
  assets: AssetService;
  content: ContentStore;
  models: ModelAssets;
  registry: ModelRegistry;
}

const KINDS: { kind: PlainAssetKind; path: string; action: string }[] = [
  { kind: 'data', path: 'data', action: 'data' },
  { kind: 'environment', path: 'environments', action: 'environments' },
  { kind: 'component', path: 'components', action: 'components' },
];

export const RegistryQuery = Type.Object({ registry: Type.Optional(Type.String({ description: 'Work in this registry instead of the workspace' })) });
const REGISTRY_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The scope a request works in: `?registry=<name>` for a registry, else its workspace. */
export async function scopeFor(req: FastifyRequest, database: Database): Promise<string> {
  const registry = (req.query as { registry?: string } | undefined)?.registry;
  if (!registry) return req.workspace.name;
  const row = await database.db.selectFrom('registries').select('name').where('name', '=', registry).executeTakeFirst();
  if (!row) throw notFound(`Registry '${registry}' does not exist. List them with 'lapis registry list'.`);
  return `registry/${registry}`;
}

const user = (req: FastifyRequest): string => req.principal?.name ?? 'anonymous';

async function sendFile(reply: FastifyReply, path: string, file: { stream: NodeJS.ReadableStream; size: number }): Promise<FastifyReply> {
  reply
    .header('Content-Type', contentTypeOf(path))
    .header('Content-Length', String(file.size))
    .header('Content-Disposition', `attachment; filename="${basename(path).replace(/["\\\r\n]/g, '_')}"`)
    .header('X-Content-Type-Options', 'nosniff');
  return reply.send(file.stream);
}

/**
 * The native asset API: content uploads, data assets, environments, components, models from YAML,
 * lineage, registries and sharing. Every route works in the request's workspace, or in a registry
 * with `?registry=<name>`.
 */
export async function assetRoutes(app: FastifyInstance, deps: AssetRouteDeps): Promise<void> {
  const { assets, content, models, database } = deps;
  const tags = ['assets'];

  // ---- content uploads (content-addressed; the CLI uploads only what the server lacks) ----
  app.get('/api/v1/content/:hash', { config: { action: 'data/read' }, schema: { summary: 'Whether an upload is already stored', tags, querystring: RegistryQuery } }, async (req) => {
    const found = await content.find(await scopeFor(req, database), (req.params as { hash: string }).hash);
    return found ? { exists: true, files: found.files.length, size: found.size } : { exists: false };
  });
  app.get('/api/v1/content/:hash/files/*', { config: { action: 'data/read' }, schema: { summary: 'Download one file of an upload (task runners fetch code and inputs here)', tags, querystring: RegistryQuery } }, async (req, reply) => {
    const p = req.params as { hash: string; '*': string };
    return sendFile(reply, p['*'], await content.open(await scopeFor(req, database), p.hash, p['*']));
  });
  await app.register(async (scope) => {
    // Upload bodies are raw bytes of any type, streamed to storage and hashed on the way.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    scope.put(
      '/api/v1/content/:hash/files/*',
      { config: { action: 'data/write' }, bodyLimit: Number.MAX_SAFE_INTEGER, schema: { summary: 'Upload one file of a content upload (header x-lapis-sha256)', tags } },
      async (req) => {
        const p = req.params as { hash: string; '*': string };
        const size = await content.putFile(await scopeFor(req, database), p.hash, p['*'], req.headers['x-lapis-sha256'], req.body as Readable);
        return { path: p['*'], ...size };
      },
    );
  });
  app.post(
    '/api/v1/content/uploads',
    { config: { action: 'data/write' }, schema: { summary: 'Open a direct upload: a staging folder a client on the server\'s machine copies files into', tags, querystring: RegistryQuery } },
    async (req) => {
      await scopeFor(req, database); // a named registry must exist, as for the uploads it is for
      if (!isLoopback(req.socket.remoteAddress)) return { direct: false, reason: 'direct uploads are offered to clients on the server\'s machine only' };
      const staged = await content.openDirect();
      return staged ? { direct: true, ...staged } : { direct: false, reason: 'the artifact store is not a local folder' };
    },
  );
  app.delete(
    '/api/v1/content/uploads/:id',
    { config: { action: 'data/write' }, schema: { summary: 'Abandon a direct upload (its staging folder is removed)', tags, querystring: RegistryQuery } },
    async (req, reply) => {
      await content.discardDirect((req.params as { id: string }).id);
      return reply.status(204).send();
    },
  );
  app.post(
    '/api/v1/content/:hash/commit',
    {
      config: { action: 'data/write' },
      schema: {
        summary: 'Complete an upload: every file present with its size and hash',
        tags,
        querystring: RegistryQuery,
        body: Type.Object({
          files: Type.Array(Type.Object({ path: Type.String(), sha256: Type.String(), size: Type.Integer({ minimum: 0 }) })),
          direct: Type.Optional(Type.String({ description: 'The id of the direct upload the files were copied into' })),
        }),
      },
    },
    async (req) => {
      const body = req.body as { files: { path: string; sha256: string; size: number }[]; direct?: string };
      return content.commit(await scopeFor(req, database), (req.params as { hash: string }).hash, body.files, body.direct);
    },
  );

  // ---- data assets, environments, components ----
  for (const { kind, path, action } of KINDS) {
    const base = `/api/v1/${path}`;
    const Version = Type.Object({ name: Type.String(), version: Type.String({ description: "a version, or 'latest'" }) });
    app.post(
      base,
      {
        config: { action: `${action}/write` },
        schema: { summary: `Create a ${kind} version from its spec (and uploaded content)`, tags, querystring: RegistryQuery, body: Type.Object({ spec: Type.Unknown(), content: Type.Optional(Type.String()) }) },
      },
      async (req, reply) => {
        const b = req.body as { spec: unknown; content?: string };
        return reply.status(201).send(await assets.create(await scopeFor(req, database), kind, b.spec, b.content, user(req)));
      },
    );
    app.get(
      base,
      {
        config: { action: `${action}/read` },
        schema: {
          summary: `List ${path} (latest version of each, or every version of one name)`,
          tags,
          querystring: Type.Object({ registry: Type.Optional(Type.String()), name: Type.Optional(Type.String()), include_archived: Type.Optional(Type.Boolean()) }),
        },
      },
      async (req) => {
        const q = req.query as { name?: string; include_archived?: boolean };
        return { [path]: await assets.list(await scopeFor(req, database), kind, { name: q.name, includeArchived: q.include_archived }) };
      },
    );
    app.get(`${base}/:name/versions/:version`, { config: { action: `${action}/read` }, schema: { summary: `Get a ${kind} version`, tags, params: Version, querystring: RegistryQuery } }, async (req) => {
      const p = req.params as { name: string; version: string };
      return assets.get(await scopeFor(req, database), kind, p.name, p.version);
    });
    for (const [verb, archived] of [['archive', true], ['restore', false]] as const) {
      app.post(`${base}/:name/versions/:version/${verb}`, { config: { action: `${action}/write` }, schema: { summary: `${verb} a ${kind} version`, tags, params: Version, querystring: RegistryQuery } }, async (req) => {
        const p = req.params as { name: string; version: string };
        return assets.setArchived(await scopeFor(req, database), kind, p.name, p.version, archived);
      });
    }
    app.get(`${base}/:name/versions/:version/files`, { config: { action: `${action}/read` }, schema: { summary: `List the files of a ${kind} version`, tags, params: Version, querystring: RegistryQuery } }, async (req) => {
      const p = req.params as { name: string; version: string };
      const scope = await scopeFor(req, database);
      const asset = await assets.get(scope, kind, p.name, p.version);
      const found = asset.content_hash ? await content.find(scope, asset.content_hash) : undefined;
      return { files: (found?.files ?? []).map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })) };
    });
    app.get(`${base}/:name/versions/:version/files/*`, { config: { action: `${action}/read` }, schema: { summary: `Download one file of a ${kind} version`, tags, querystring: RegistryQuery } }, async (req, reply) => {
      const p = req.params as { name: string; version: string; '*': string };
      const scope = await scopeFor(req, database);
      const asset = await assets.get(scope, kind, p.name, p.version);
      if (!asset.content_hash) throw notFound(`${kind} ${asset.name}:${asset.version} has no uploaded files (its path is ${String(asset.spec.path ?? '-')}).`);
      return sendFile(reply, p['*'], await content.open(scope, asset.content_hash, p['*']));
    });
    app.post(
      `${base}/:name/versions/:version/share`,
      {
        config: { action: `${action}/write` },
        schema: { summary: `Share a ${kind} version to a registry`, tags, params: Version, body: Type.Object({ registry: Type.String(), share_with_name: Type.Optional(Type.String()), share_with_version: Type.Optional(Type.String()) }) },
      },
      async (req, reply) => {
        const p = req.params as { name: string; version: string };
        const b = req.body as { registry: string; share_with_name?: string; share_with_version?: string };
        const source = await assets.get(req.workspace.name, kind, p.name, p.version);
        const target = await registryScope(database, b.registry);
        if (source.content_hash) await content.copy(req.workspace.name, target, source.content_hash);
        const spec = { ...source.spec, name: b.share_with_name ?? source.name, version: b.share_with_version ?? source.version };
        return reply.status(201).send(await assets.create(target, kind, spec, source.content_hash, user(req), { shared_from: { workspace: req.workspace.name, name: source.name, version: source.version }, lineage: source.lineage ?? null }));
      },
    );
  }

  app.get(
    '/api/v1/resolve',
    {
      config: { action: 'data/read' },
      schema: { summary: 'Resolve an asset reference (azureml:n:v, n@latest, azureml://registries/…)', tags, querystring: Type.Object({ kind: Type.Union(KINDS.map((k) => Type.Literal(k.kind))), ref: Type.String() }) },
    },
    async (req) => {
      const q = req.query as { kind: PlainAssetKind; ref: string };
      return assets.resolve(req.workspace.name, q.kind, q.ref);
    },
  );

  // ---- models (Azure ML assets over the MLflow registry) ----
  const ModelVersion = Type.Object({ name: Type.String(), version: Type.String() });
  app.post(
    '/api/v1/models',
    { config: { action: 'models/write' }, schema: { summary: 'Create a model version from its spec (and uploaded files)', tags, querystring: RegistryQuery, body: Type.Object({ spec: Type.Unknown(), content: Type.Optional(Type.String()) }) } },
    async (req, reply) => {
      const b = req.body as { spec: unknown; content?: string };
      return reply.status(201).send(await models.create(scopeOf(await scopeFor(req, database)), b.spec, b.content, req.principal?.name));
    },
  );
  app.get(
    '/api/v1/models',
    { config: { action: 'models/read' }, schema: { summary: 'List registered models, or the versions of one', tags, querystring: Type.Object({ registry: Type.Optional(Type.String()), name: Type.Optional(Type.String()), include_archived: Type.Optional(Type.Boolean()) }) } },
    async (req) => {
      const q = req.query as { name?: string; include_archived?: boolean };
      const scope = scopeOf(await scopeFor(req, database));
      if (q.name) {
        const { versions } = await deps.registry.searchVersions(scope, { filter: `name = '${q.name.replace(/'/g, "\\'")}'`, orderBy: ['version_number DESC'], maxResults: 10_000 });
        return { versions: versions.filter((v) => q.include_archived || !v.archived) };
      }
      const { models: list } = await deps.registry.searchModels(scope, { maxResults: 1000 });
      return { models: list };
    },
  );
  const versionOf = (scope: string, name: string, version: string): Promise<string> => models.resolveVersion(scopeOf(scope), name, version);
  app.get('/api/v1/models/:name/versions/:version', { config: { action: 'models/read' }, schema: { summary: 'Get a model version', tags, params: ModelVersion, querystring: RegistryQuery } }, async (req) => {
    const p = req.params as { name: string; version: string };
    const scope = await scopeFor(req, database);
    return deps.registry.getVersion(scopeOf(scope), p.name, await versionOf(scope, p.name, p.version));
  });
  for (const [verb, archived] of [['archive', true], ['restore', false]] as const) {
    app.post(`/api/v1/models/:name/versions/:version/${verb}`, { config: { action: 'models/write' }, schema: { summary: `${verb} a model version`, tags, params: ModelVersion, querystring: RegistryQuery } }, async (req) => {
      const p = req.params as { name: string; version: string };
      const scope = await scopeFor(req, database);
      return deps.registry.setArchived(scopeOf(scope), p.name, await versionOf(scope, p.name, p.version), archived);
    });
  }
  app.get('/api/v1/models/:name/versions/:version/files', { config: { action: 'models/read' }, schema: { summary: "List a model version's files", tags, params: ModelVersion, querystring: RegistryQuery } }, async (req) => {
    const p = req.params as { name: string; version: string };
    const scope = await scopeFor(req, database);
    return { files: await models.files(scopeOf(scope), p.name, await versionOf(scope, p.name, p.version)) };
  });
  app.get('/api/v1/models/:name/versions/:version/files/*', { config: { action: 'models/read' }, schema: { summary: 'Download one file of a model version', tags, querystring: RegistryQuery } }, async (req, reply) => {
    const p = req.params as { name: string; version: string; '*': string };
    const scope = await scopeFor(req, database);
    return sendFile(reply, p['*'], await models.open(scopeOf(scope), p.name, await versionOf(scope, p.name, p.version), p['*']));
  });
  app.get('/api/v1/models/:name/versions/:version/lineage', { config: { action: 'models/read' }, schema: { summary: 'Where a model version came from, as a graph', tags, params: ModelVersion, querystring: RegistryQuery } }, async (req) => {
    const p = req.params as { name: string; version: string };
    const scope = await scopeFor(req, database);
    return models.lineage(scopeOf(scope), p.name, await versionOf(scope, p.name, p.version));
  });
  app.post(
    '/api/v1/models/:name/versions/:version/share',
    {
      config: { action: 'models/write' },
      schema: { summary: 'Copy a model version, with its lineage, to a registry', tags, params: ModelVersion, body: Type.Object({ registry: Type.String(), share_with_name: Type.Optional(Type.String()), share_with_version: Type.Optional(Type.String()) }) },
    },
    async (req, reply) => {
      const p = req.params as { name: string; version: string };
      const b = req.body as { registry: string; share_with_name?: string; share_with_version?: string };
      const target = await registryScope(database, b.registry);
      const version = await versionOf(req.workspace.name, p.name, p.version);
      return reply.status(201).send(await models.share(req.workspace, p.name, version, target.slice('registry/'.length), b.share_with_name ?? p.name, b.share_with_version, req.principal?.name));
    },
  );

  // ---- registries ----
  app.post(
    '/api/v1/registries',
    { config: { action: 'registries/create' }, schema: { summary: 'Create a registry: a scope shared by every workspace', tags, body: Type.Object({ name: Type.String(), description: Type.Optional(Type.String()) }) } },
    async (req, reply) => {
      const b = req.body as { name: string; description?: string };
      if (!REGISTRY_NAME.test(b.name) || b.name.length < 2 || b.name.length > 63) throw invalid(`Invalid registry name '${b.name}': use 2–63 lowercase letters, digits and dashes.`);
      if (await database.db.selectFrom('registries').select('name').where('name', '=', b.name).executeTakeFirst()) throw alreadyExists(`Registry '${b.name}' already exists.`);
      const row = { name: b.name, description: b.description ?? '', created_at: now() };
      await database.db.insertInto('registries').values(row).execute();
      return reply.status(201).send(row);
    },
  );
  app.get('/api/v1/registries', { config: { action: 'self/read' }, schema: { summary: 'List registries', tags } }, async () => ({
    registries: (await database.db.selectFrom('registries').selectAll().orderBy('name').execute()).map((r) => ({ ...r, created_at: Number(r.created_at) })),
  }));
}

async function registryScope(database: Database, name: string): Promise<string> {
  const row = await database.db.selectFrom('registries').select('name').where('name', '=', name).executeTakeFirst();
  if (!row) throw new LapisError('NOT_FOUND', `Registry '${name}' does not exist. An admin creates it with 'lapis registry create ${name}'.`);
  return `registry/${name}`;
}

/** A peer on this machine: the only kind a direct upload's staging folder means anything to. */
function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || /^(?:::ffff:)?127\./.test(address));
}
