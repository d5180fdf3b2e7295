/**
 * Workspace isolation under authentication: `ana` is Owner of `dev` and has no role in `prod`, which
 * the admin fills with an experiment, runs (metrics, params, tags), artifacts and a logged model.
 * Nothing ana sends — through prod's prefix, through dev's with prod's ids, through the artifact
 * proxy, with path tricks — reads, finds or changes anything of prod; prod answers exactly as a
 * workspace that does not exist. Deleting dev (refused to non-Owners, refused while non-empty,
 * then forced) removes dev's rows and files and nothing else.
 *
 * "Nothing else" is checked in the stores themselves, not through the API under test: row counts
 * per workspace in the database and a SHA-256 of every artifact file in the blob store, before and
 * after. A third workspace `devx` (a name `dev` is a string prefix of) must survive dev's purge too.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Env, startLapis, type LapisServer } from '../support/server.js';

const ADMIN_PASSWORD = 'admin-password-for-isolation-tests';
const MLFLOW = '/api/2.0/mlflow';
const PROXY = '/api/2.0/mlflow-artifacts/artifacts';
const T0 = 1_700_000_000_000;
const NO_ROLE = /^Workspace '([^']*)' does not exist or you have no role in it\./;

// ---- HTTP -----------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  json: Record<string, unknown>;
  text: string;
  bytes: Buffer;
  /** error_code (MLflow routes) or error.code (native routes). */
  code: string | undefined;
  message: string;
}

/** node:http, so the path reaches the server byte for byte (fetch would resolve `..` and `%2e%2e`). */
function send(base: string, method: string, path: string, opts: { token?: string; body?: unknown; raw?: Buffer; headers?: Record<string, string> } = {}): Promise<Reply> {
  const url = new URL(base);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let payload: Buffer | undefined;
  if (opts.raw) {
    payload = opts.raw;
    headers['content-type'] = 'application/octet-stream';
  } else if (opts.body !== undefined) {
    payload = Buffer.from(JSON.stringify(opts.body));
    headers['content-type'] = 'application/json';
  }
  if (payload) headers['content-length'] = String(payload.length);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const text = bytes.toString('utf8');
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // not JSON
        }
        const err = json.error as { code?: string; message?: string } | undefined;
        resolve({ status: res.statusCode ?? 0, json, text, bytes, code: (json.error_code as string | undefined) ?? err?.code, message: (json.message as string | undefined) ?? err?.message ?? '' });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const q = (params: Record<string, string>): string => `?${new URLSearchParams(params).toString()}`;

// ---- what the stores hold ------------------------------------------------------------------------------

/** Row counts of everything a workspace owns, read straight from the database. */
const COUNTS: Record<string, string> = {
  workspaces: 'select count(*) as n from workspaces where name = $1',
  experiments: 'select count(*) as n from experiments where workspace = $1',
  experiment_tags: 'select count(*) as n from experiment_tags where experiment_id in (select experiment_id from experiments where workspace = $1)',
  runs: 'select count(*) as n from runs where workspace = $1',
  params: 'select count(*) as n from params where run_uuid in (select run_uuid from runs where workspace = $1)',
  tags: 'select count(*) as n from tags where run_uuid in (select run_uuid from runs where workspace = $1)',
  metrics: 'select count(*) as n from metrics where run_key in (select run_key from runs where workspace = $1)',
  latest_metrics: 'select count(*) as n from latest_metrics where run_uuid in (select run_uuid from runs where workspace = $1)',
  run_models: 'select count(*) as n from run_models where run_uuid in (select run_uuid from runs where workspace = $1)',
  logged_models: 'select count(*) as n from logged_models where workspace = $1',
  logged_model_params: 'select count(*) as n from logged_model_params where model_id in (select model_id from logged_models where workspace = $1)',
  logged_model_tags: 'select count(*) as n from logged_model_tags where model_id in (select model_id from logged_models where workspace = $1)',
  logged_model_metrics: 'select count(*) as n from logged_model_metrics where model_id in (select model_id from logged_models where workspace = $1)',
  registered_models: 'select count(*) as n from registered_models where workspace = $1',
  registered_model_tags: 'select count(*) as n from registered_model_tags where workspace = $1',
  model_versions: 'select count(*) as n from model_versions where workspace = $1',
  model_version_tags: 'select count(*) as n from model_version_tags where workspace = $1',
  registered_model_aliases: 'select count(*) as n from registered_model_aliases where workspace = $1',
  role_assignments: 'select count(*) as n from role_assignments where workspace = $1',
};

interface Inspector {
  rows(ws: string): Promise<Record<string, number>>;
  /** Names and lifecycle stages of a workspace's experiments, runs and models, and its run tag values. */
  fingerprint(ws: string): Promise<string>;
  /** Every artifact file of a workspace: path under the workspace → SHA-256. */
  files(ws: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const FINGERPRINT = [
  `select 'e:' || experiment_id || ':' || name || ':' || lifecycle_stage as v from experiments where workspace = $1`,
  `select 'r:' || run_uuid || ':' || name || ':' || lifecycle_stage || ':' || status as v from runs where workspace = $1`,
  `select 't:' || run_uuid || ':' || key || '=' || value as v from tags where run_uuid in (select run_uuid from runs where workspace = $1)`,
  `select 'et:' || experiment_id || ':' || key || '=' || value as v from experiment_tags where experiment_id in (select experiment_id from experiments where workspace = $1)`,
  `select 'm:' || model_id || ':' || name || ':' || lifecycle_stage || ':' || status as v from logged_models where workspace = $1`,
  `select 'rm:' || name || ':' || coalesce(description, '') as v from registered_models where workspace = $1`,
  `select 'mv:' || name || ':' || version || ':' || current_stage || ':' || storage_location as v from model_versions where workspace = $1`,
  `select 'ma:' || name || ':' || alias || ':' || version as v from registered_model_aliases where workspace = $1`,
];

async function inspector(server: LapisServer): Promise<Inspector> {
  const artifacts = /^ {2}artifacts: +(\S+)$/m.exec(server.logs())?.[1];
  if (!artifacts) throw new Error(`no artifacts line in the server's output:\n${server.logs()}`);

  let files: (ws: string) => Promise<Record<string, string>>;
  let closeFiles = async (): Promise<void> => {};
  if (artifacts.startsWith('file:')) {
    const root = fileURLToPath(artifacts);
    files = async (ws) => {
      const out: Record<string, string> = {};
      const walk = async (dir: string, rel: string): Promise<void> => {
        if (!existsSync(dir)) return;
        for (const e of await readdir(dir, { withFileTypes: true })) {
          if (e.isDirectory()) await walk(join(dir, e.name), `${rel}${e.name}/`);
          else out[`${rel}${e.name}`] = sha(await readFile(join(dir, e.name)));
        }
      };
      await walk(join(root, ws), '');
      return out;
    };
  } else {
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(artifacts);
    if (!m) throw new Error(`unexpected artifacts destination ${artifacts}`);
    const [, bucket, prefix] = m as unknown as [string, string, string];
    const env = s3Env();
    const s3 = new S3Client({ endpoint: env.AWS_ENDPOINT_URL_S3, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
    closeFiles = async () => s3.destroy();
    files = async (ws) => {
      const out: Record<string, string> = {};
      const dir = `${prefix ? `${prefix}/` : ''}${ws}/`;
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: dir, ContinuationToken: token }));
        for (const o of page.Contents ?? []) {
          const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
          out[(o.Key as string).slice(dir.length)] = sha(Buffer.from(await (obj.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()));
        }
        token = page.NextContinuationToken;
      } while (token);
      return out;
    };
  }

  const counted = Object.entries(COUNTS);
  if (server.backendStoreUri.startsWith('sqlite:')) {
    const db = new Database(server.backendStoreUri.replace(/^sqlite:\/\//, ''), { readonly: true, fileMustExist: true });
    const sqlite = (sql: string): string => sql.replace(/\$1/g, '?');
    return {
      async rows(ws) {
        return Object.fromEntries(counted.map(([k, sql]) => [k, Number((db.prepare(sqlite(sql)).get(ws) as { n: number }).n)]));
      },
      async fingerprint(ws) {
        return FINGERPRINT.flatMap((sql) => (db.prepare(sqlite(sql)).all(ws) as { v: string }[]).map((r) => r.v))
          .sort()
          .join('\n');
      },
      files,
      async close() {
        db.close();
        await closeFiles();
      },
    };
  }
  const client = new pg.Client({ connectionString: server.backendStoreUri });
  await client.connect();
  return {
    async rows(ws) {
      const out: Record<string, number> = {};
      for (const [k, sql] of counted) out[k] = Number((await client.query<{ n: string }>(sql, [ws])).rows[0]?.n);
      return out;
    },
    async fingerprint(ws) {
      const all: string[] = [];
      for (const sql of FINGERPRINT) all.push(...(await client.query<{ v: string }>(sql.replace(/ \|\| /g, '::text || '), [ws])).rows.map((r) => r.v));
      return all.sort().join('\n');
    },
    files,
    async close() {
      await client.end();
      await closeFiles();
    },
  };
}

// ---- the suite ------------------------------------------------------------------------------------------

const BACKENDS = [
  { backend: 'sqlite', artifacts: 'file' },
  { backend: 'postgres', artifacts: 's3' },
] as const;

describe.each(BACKENDS)('workspace isolation on $backend + $artifacts', ({ backend, artifacts }) => {
  let server: LapisServer;
  let store: Inspector;
  let base: string;
  const tok = { admin: '', ana: '', rita: '', bob: '' };
  const prod = { exp: '', run: '', run2: '', model: '', artifact: '', modelArtifact: '', bytes: randomBytes(4096), modelBytes: Buffer.from('artifact_path: model\nflavors: {}\n') };
  const dev = { exp: '', run: '' };

  type Snapshot = Record<string, { rows: Record<string, number>; files: Record<string, string>; fingerprint: string }>;
  const snapshot = async (...names: string[]): Promise<Snapshot> => {
    const out: Snapshot = {};
    for (const ws of names) out[ws] = { rows: await store.rows(ws), files: await store.files(ws), fingerprint: await store.fingerprint(ws) };
    return out;
  };

  const as = (who: keyof typeof tok) => (method: string, path: string, body?: unknown, headers?: Record<string, string>) => send(base, method, path, { token: tok[who], body, headers });
  const ok = async (p: Promise<Reply>, status = 200): Promise<Record<string, unknown>> => {
    const r = await p;
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text.slice(0, 500)}`);
    return r.json;
  };

  let prodBefore: Snapshot;

  beforeAll(async () => {
    server = await startLapis({ backend, artifacts, args: ['--auth', 'on'], env: { LAPIS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    base = server.url;
    store = await inspector(server);
    const login = await send(base, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    expect(login.status, login.text).toBe(200);
    tok.admin = login.json.token as string;
    const admin = as('admin');

    for (const ws of ['dev', 'prod', 'devx']) await ok(admin('POST', '/api/v1/workspaces', { name: ws }), 201);
    for (const [user, role] of [['ana', 'Owner'], ['rita', 'Reader'], ['bob', 'Data Scientist']] as const) {
      await ok(admin('POST', '/api/v1/users', { name: user, password: `${user}-long-password` }), 201);
      await ok(admin('POST', '/workspaces/dev/api/v1/role-assignments', { principal: user, role }), 201);
      tok[user] = (await ok(admin('POST', '/api/v1/tokens', { principal: user, name: 'tests' }), 201)).token as string;
    }

    // prod, filled by the admin.
    const P = '/workspaces/prod';
    prod.exp = (await ok(admin('POST', `${P}${MLFLOW}/experiments/create`, { name: 'prod-exp', tags: [{ key: 'team', value: 'prod-team' }] }))).experiment_id as string;
    for (const name of ['prod-run', 'prod-run-2']) {
      const run = (await ok(admin('POST', `${P}${MLFLOW}/runs/create`, { experiment_id: prod.exp, run_name: name, start_time: T0 }))).run as { info: { run_id: string } };
      if (name === 'prod-run') prod.run = run.info.run_id;
      else prod.run2 = run.info.run_id;
      await ok(
        admin('POST', `${P}${MLFLOW}/runs/log-batch`, {
          run_id: run.info.run_id,
          metrics: [0, 1, 2].map((step) => ({ key: 'rmse', value: 1 / (step + 1), timestamp: T0 + step, step })),
          params: [{ key: 'alpha', value: '0.5' }],
          tags: [{ key: 'stage', value: 'production' }],
        }),
      );
    }
    prod.artifact = `${prod.exp}/${prod.run}/artifacts/model.bin`;
    await ok(send(base, 'PUT', `${P}${PROXY}/${prod.artifact}`, { token: tok.admin, raw: prod.bytes }));
    await ok(send(base, 'PUT', `${P}${PROXY}/${prod.exp}/${prod.run}/artifacts/data/notes.txt`, { token: tok.admin, raw: Buffer.from('prod notes') }));
    const model = (await ok(admin('POST', `${P}${MLFLOW}/logged-models`, { experiment_id: prod.exp, name: 'prod-model', source_run_id: prod.run, params: [{ key: 'depth', value: '3' }] }))).model as {
      info: { model_id: string };
    };
    prod.model = model.info.model_id;
    prod.modelArtifact = `${prod.exp}/models/${prod.model}/artifacts/MLmodel`;
    await ok(send(base, 'PUT', `${P}${PROXY}/${prod.modelArtifact}`, { token: tok.admin, raw: prod.modelBytes }));
    await ok(admin('PATCH', `${P}${MLFLOW}/logged-models/${prod.model}`, { status: 'LOGGED_MODEL_READY' }));
    await ok(admin('POST', `${P}${MLFLOW}/runs/log-batch`, { run_id: prod.run, metrics: [{ key: 'acc', value: 0.9, timestamp: T0, step: 0, model_id: prod.model }] }));
    await ok(admin('POST', `${P}${MLFLOW}/registered-models/create`, { name: 'prod-registered', tags: [{ key: 'tier', value: 'gold' }] }));
    await ok(admin('POST', `${P}${MLFLOW}/model-versions/create`, { name: 'prod-registered', source: `models:/${prod.model}`, run_id: prod.run, model_id: prod.model }));
    await ok(admin('POST', `${P}${MLFLOW}/registered-models/alias`, { name: 'prod-registered', alias: 'champion', version: '1' }));

    // devx (dev is a string prefix of its name), filled by the admin.
    const X = '/workspaces/devx';
    const xexp = (await ok(admin('POST', `${X}${MLFLOW}/experiments/create`, { name: 'devx-exp' }))).experiment_id as string;
    const xrun = ((await ok(admin('POST', `${X}${MLFLOW}/runs/create`, { experiment_id: xexp }))).run as { info: { run_id: string } }).info.run_id;
    await ok(admin('POST', `${X}${MLFLOW}/runs/log-parameter`, { run_id: xrun, key: 'k', value: 'v' }));
    await ok(send(base, 'PUT', `${X}${PROXY}/${xexp}/${xrun}/artifacts/x.txt`, { token: tok.admin, raw: Buffer.from('devx file') }));

    // dev, filled by ana.
    const ana = as('ana');
    const D = '/workspaces/dev';
    dev.exp = (await ok(ana('POST', `${D}${MLFLOW}/experiments/create`, { name: 'dev-exp' }))).experiment_id as string;
    dev.run = ((await ok(ana('POST', `${D}${MLFLOW}/runs/create`, { experiment_id: dev.exp }))).run as { info: { run_id: string } }).info.run_id;
    await ok(ana('POST', `${D}${MLFLOW}/runs/log-batch`, { run_id: dev.run, metrics: [{ key: 'rmse', value: 0.7, timestamp: T0, step: 0 }], params: [{ key: 'alpha', value: '0.1' }] }));
    await ok(send(base, 'PUT', `${D}${PROXY}/${dev.exp}/${dev.run}/artifacts/dev.txt`, { token: tok.ana, raw: Buffer.from('dev file') }));
    await ok(ana('POST', `${D}${MLFLOW}/registered-models/create`, { name: 'dev-registered', tags: [{ key: 'tier', value: 'dev' }] }));
    await ok(ana('POST', `${D}${MLFLOW}/model-versions/create`, { name: 'dev-registered', source: `runs:/${dev.run}/model`, run_id: dev.run }));
    await ok(ana('POST', `${D}${MLFLOW}/registered-models/alias`, { name: 'dev-registered', alias: 'latest-dev', version: '1' }));

    prodBefore = await snapshot('prod', 'devx', 'default');
    // The snapshot sees what the admin made: it is not vacuously equal.
    const p = prodBefore.prod as Snapshot[string];
    expect(p.rows).toMatchObject({ experiments: 2, runs: 2, params: 2, metrics: 7, logged_models: 1, logged_model_params: 1, logged_model_metrics: 1, registered_models: 1, model_versions: 1, registered_model_aliases: 1 });
    expect(Object.keys(p.files).sort()).toEqual([`${prod.exp}/${prod.run}/artifacts/data/notes.txt`, prod.artifact, prod.modelArtifact].sort());
    expect(p.files[prod.artifact]).toBe(sha(prod.bytes));
  }, 300_000);

  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  /** prod (and devx, default) exactly as the admin left them. */
  const expectProdUntouched = async (): Promise<void> => {
    expect(await snapshot('prod', 'devx', 'default')).toEqual(prodBefore);
  };

  it('prod answers 404 exactly like a workspace that does not exist, by prefix, by header and by name', async () => {
    const ana = as('ana');
    const pairs: [string, string, Record<string, string>?][] = [
      [`/workspaces/{ws}${MLFLOW}/experiments/search`, 'GET'],
      [`/workspaces/{ws}${MLFLOW}/runs/get${q({ run_id: prod.run })}`, 'GET'],
      [`/workspaces/{ws}${MLFLOW}/runs/search`, 'POST'],
      [`/workspaces/{ws}${MLFLOW}/runs/log-batch`, 'POST'],
      [`/workspaces/{ws}${MLFLOW}/logged-models/${prod.model}`, 'GET'],
      [`/workspaces/{ws}${PROXY}/${prod.artifact}`, 'GET'],
      [`/workspaces/{ws}${PROXY}/${prod.artifact}`, 'DELETE'],
      [`/workspaces/{ws}/api/v1/runs/${prod.run}`, 'GET'],
      [`/workspaces/{ws}/api/v1/audit`, 'GET'],
      [`/workspaces/{ws}/api/v1/role-assignments`, 'GET'],
      ['/api/v1/workspaces/{ws}', 'GET'],
      ['/api/v1/workspaces/{ws}', 'DELETE'],
      ['/api/3.0/mlflow/workspaces/{ws}', 'GET'],
      [`${MLFLOW}/experiments/search`, 'GET', { 'x-lapis-workspace': '{ws}' }],
      [`${MLFLOW}/runs/get${q({ run_id: prod.run })}`, 'GET', { 'x-mlflow-workspace': '{ws}' }],
    ];
    for (const [template, method, headers] of pairs) {
      const at = (ws: string) => ana(method, template.replace('{ws}', ws), method === 'GET' ? undefined : {}, headers && Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('{ws}', ws)])));
      const [inProd, missing] = [await at('prod'), await at('no-such-ws')];
      const label = `${method} ${template}`;
      expect(inProd.status, `${label}: ${inProd.text}`).toBe(404);
      expect(NO_ROLE.exec(inProd.message)?.[1], label).toBe('prod');
      expect({ status: inProd.status, code: inProd.code, message: inProd.message.replace("'prod'", "'?'") }, label).toEqual({
        status: missing.status,
        code: missing.code,
        message: missing.message.replace("'no-such-ws'", "'?'"),
      });
      expect(inProd.text, label).not.toMatch(/prod-exp|prod-run|prod-model|production/);
    }
    await expectProdUntouched();
  });

  it("cannot read prod's runs, metrics, models or artifacts by id through dev", async () => {
    const ana = as('ana');
    const D = '/workspaces/dev';
    const reads = [
      `${MLFLOW}/runs/get${q({ run_id: prod.run })}`,
      `${MLFLOW}/runs/get${q({ run_uuid: prod.run })}`,
      `${MLFLOW}/metrics/get-history${q({ run_id: prod.run, metric_key: 'rmse' })}`,
      `${MLFLOW}/metrics/get-history-bulk-interval${q({ run_ids: prod.run, metric_key: 'rmse' })}`,
      `/ajax-api/2.0/mlflow/metrics/get-history-bulk${q({ run_id: prod.run, metric_key: 'rmse' })}`,
      `${MLFLOW}/artifacts/list${q({ run_id: prod.run })}`,
      `${MLFLOW}/experiments/get${q({ experiment_id: prod.exp })}`,
      `${MLFLOW}/experiments/get-by-name${q({ experiment_name: 'prod-exp' })}`,
      `${MLFLOW}/logged-models/${prod.model}`,
      `${MLFLOW}/logged-models/${prod.model}/artifacts/directories`,
      `/api/v1/runs/${prod.run}`,
      `/api/v1/runs/${prod.run}/metrics/rmse/history`,
      `/api/v1/runs/${prod.run}/artifacts`,
      `/api/v1/runs/${prod.run}/artifacts${q({ recursive: 'true' })}`,
      `/api/v1/runs/${prod.run}/artifacts/model.bin`,
      `/api/v1/experiments/${prod.exp}`,
      '/api/v1/experiments/prod-exp',
      `${PROXY}/${prod.artifact}`,
      `${PROXY}/${prod.modelArtifact}`,
      `${MLFLOW}/registered-models/get${q({ name: 'prod-registered' })}`,
      `${MLFLOW}/registered-models/get-latest-versions${q({ name: 'prod-registered' })}`,
      `${MLFLOW}/registered-models/alias${q({ name: 'prod-registered', alias: 'champion' })}`,
      `${MLFLOW}/model-versions/get${q({ name: 'prod-registered', version: '1' })}`,
      `${MLFLOW}/model-versions/get-download-uri${q({ name: 'prod-registered', version: '1' })}`,
    ];
    for (const path of reads) {
      const r = await ana('GET', `${D}${path}`);
      expect(r.status, `GET ${path}: ${r.text.slice(0, 300)}`).toBe(404);
      // (A message may echo what ana sent, such as the name 'prod-exp'; nothing else of prod may show.)
      expect(r.text, path).not.toMatch(path.includes('prod-exp') ? /prod-run|prod-model|production|prod-team/ : /prod-exp|prod-run|prod-model|production|prod-team/);
      expect(r.bytes.includes(prod.bytes.subarray(0, 64)), path).toBe(false);
    }
    // The proxy's listing of prod's paths, through dev, is dev's (empty) directory.
    const listing = await ana('GET', `${D}/api/2.0/mlflow-artifacts/artifacts${q({ path: `${prod.exp}/${prod.run}/artifacts` })}`);
    expect(listing.status).toBe(200);
    expect(listing.json.files ?? []).toEqual([]);
    await expectProdUntouched();
  });

  it("cannot find prod's runs, experiments or models with search", async () => {
    const ana = as('ana');
    const D = `/workspaces/dev${MLFLOW}`;
    // Filters naming prod's run, in dev's own experiments: found nothing.
    for (const filter of [`attributes.run_id = '${prod.run}'`, `attributes.run_id IN ('${prod.run}', '${prod.run2}')`, "tags.stage = 'production'", "params.alpha = '0.5'", "attributes.run_name = 'prod-run'"]) {
      const r = await ana('POST', `${D}/runs/search`, { experiment_ids: [dev.exp, '0'], filter, run_view_type: 'ALL' });
      expect(r.status, `${filter}: ${r.text}`).toBe(200);
      expect(r.json.runs ?? [], filter).toEqual([]);
    }
    // prod's experiment ids: not found, with or without a filter, alone or beside dev's.
    for (const ids of [[prod.exp], [dev.exp, prod.exp]]) {
      for (const filter of [undefined, `attributes.run_id = '${prod.run}'`]) {
        const r = await ana('POST', `${D}/runs/search`, { experiment_ids: ids, ...(filter ? { filter } : {}) });
        expect(r.status, `${JSON.stringify(ids)} ${filter}: ${r.text}`).toBe(404);
        expect(r.code).toBe('RESOURCE_DOES_NOT_EXIST');
      }
    }
    const native = await ana('POST', '/workspaces/dev/api/v1/runs/search', { experiments: [prod.exp] });
    expect(native.status, native.text).toBe(404);
    expect((await ana('POST', '/workspaces/dev/api/v1/runs/search', { experiments: ['prod-exp'] })).status).toBe(404);
    const models = await ana('POST', `${D}/logged-models/search`, { experiment_ids: [prod.exp] });
    expect(models.status, models.text).toBe(404);
    const devModels = await ana('POST', `${D}/logged-models/search`, { experiment_ids: [dev.exp], filter: "name = 'prod-model'" });
    expect(devModels.json.models ?? []).toEqual([]);
    const experiments = await ana('POST', `${D}/experiments/search`, { view_type: 'ALL', max_results: 1000 });
    expect((experiments.json.experiments as { name: string }[]).map((e) => e.name).sort()).toEqual(['Default', 'dev-exp']);
    const byName = await ana('POST', `${D}/experiments/search`, { filter: "name = 'prod-exp'" });
    expect(byName.json.experiments ?? []).toEqual([]);
    // The registry: dev's own only.
    const registered = await ana('GET', `${D}/registered-models/search${q({ max_results: '1000' })}`);
    expect(registered.status, registered.text).toBe(200);
    expect((registered.json.registered_models as { name: string }[]).map((m) => m.name)).toEqual(['dev-registered']);
    for (const filter of ["name = 'prod-registered'", "name LIKE 'prod%'", "tags.tier = 'gold'"]) {
      const r = await ana('GET', `${D}/registered-models/search${q({ filter })}`);
      expect(r.status, `${filter}: ${r.text}`).toBe(200);
      expect(r.json.registered_models ?? [], filter).toEqual([]);
    }
    for (const filter of ["name = 'prod-registered'", `run_id = '${prod.run}'`]) {
      const r = await ana('GET', `${D}/model-versions/search${q({ filter })}`);
      expect(r.status, `${filter}: ${r.text}`).toBe(200);
      expect(r.json.model_versions ?? [], filter).toEqual([]);
    }
    await expectProdUntouched();
  });

  it("cannot GET, PUT or DELETE prod's artifact files through dev's proxy (prod's bytes unchanged)", async () => {
    const D = `/workspaces/dev${PROXY}`;
    const evil = Buffer.from('overwritten by ana');
    for (const path of [prod.artifact, prod.modelArtifact]) {
      expect((await send(base, 'GET', `${D}/${path}`, { token: tok.ana })).status).toBe(404);
      // Writing to the same path through dev writes dev's own file, never prod's.
      const put = await send(base, 'PUT', `${D}/${path}`, { token: tok.ana, raw: evil });
      expect(put.status, put.text).toBe(200);
      expect((await send(base, 'GET', `${D}/${path}`, { token: tok.ana })).bytes.equals(evil)).toBe(true);
      expect((await send(base, 'DELETE', `${D}/${path}`, { token: tok.ana })).status).toBe(200);
      await expectProdUntouched();
    }
    // Path tricks that would climb out of dev's prefix into prod's are refused.
    const climbs = [`../prod/${prod.artifact}`, `%2e%2e/prod/${prod.artifact}`, `..%2fprod%2f${prod.artifact.replace(/\//g, '%2f')}`, `./../prod/${prod.artifact}`, `a/../../prod/${prod.artifact}`, `a/%2e%2e/%2e%2e/prod/${prod.artifact}`];
    for (const trick of climbs) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const r = await send(base, method, `${D}/${trick}`, { token: tok.ana, ...(method === 'PUT' ? { raw: evil } : {}) });
        if (method === 'GET') expect(r.bytes.equals(prod.bytes), `${method} ${trick}`).toBe(false);
        expect([400, 404], `${method} ${trick}: ${r.status} ${r.text.slice(0, 200)}`).toContain(r.status);
      }
    }
    // An absolute-looking path is refused outright (400), or, where the URL normalises it away, stays inside dev (404).
    for (const trick of [`%2fprod/${prod.artifact}`, `/prod/${prod.artifact}`, `//prod/${prod.artifact}`]) {
      const get = await send(base, 'GET', `${D}/${trick}`, { token: tok.ana });
      expect(get.bytes.equals(prod.bytes), `GET ${trick}`).toBe(false);
      expect([400, 404], `GET ${trick}`).toContain(get.status);
      await send(base, 'PUT', `${D}/${trick}`, { token: tok.ana, raw: evil });
      await send(base, 'DELETE', `${D}/${trick}`, { token: tok.ana });
    }
    // Nor through prod's own prefix, or the header, with a dev token.
    expect((await send(base, 'PUT', `/workspaces/prod${PROXY}/${prod.artifact}`, { token: tok.ana, raw: evil })).status).toBe(404);
    expect((await send(base, 'DELETE', `${PROXY}/${prod.artifact}`, { token: tok.ana, headers: { 'x-lapis-workspace': 'prod' } })).status).toBe(404);
    await expectProdUntouched();
  });

  it("cannot rename, delete, tag or write to prod's experiment, runs or model by id through dev", async () => {
    const ana = as('ana');
    const D = `/workspaces/dev${MLFLOW}`;
    const writes: [string, string, unknown][] = [
      ['POST', '/experiments/update', { experiment_id: prod.exp, new_name: 'renamed-by-ana' }],
      ['POST', '/experiments/delete', { experiment_id: prod.exp }],
      ['POST', '/experiments/restore', { experiment_id: prod.exp }],
      ['POST', '/experiments/set-experiment-tag', { experiment_id: prod.exp, key: 'team', value: 'ana' }],
      ['POST', '/experiments/delete-experiment-tag', { experiment_id: prod.exp, key: 'team' }],
      ['POST', '/runs/create', { experiment_id: prod.exp }],
      ['POST', '/runs/update', { run_id: prod.run, status: 'FAILED' }],
      ['POST', '/runs/delete', { run_id: prod.run }],
      ['POST', '/runs/restore', { run_id: prod.run }],
      ['POST', '/runs/log-metric', { run_id: prod.run, key: 'rmse', value: 9, timestamp: T0, step: 9 }],
      ['POST', '/runs/log-parameter', { run_id: prod.run, key: 'beta', value: '1' }],
      ['POST', '/runs/set-tag', { run_id: prod.run, key: 'stage', value: 'hacked' }],
      ['POST', '/runs/delete-tag', { run_id: prod.run, key: 'stage' }],
      ['POST', '/runs/log-batch', { run_id: prod.run, tags: [{ key: 'stage', value: 'hacked' }] }],
      ['POST', '/runs/log-model', { run_id: prod.run, model_json: JSON.stringify({ artifact_path: 'm', flavors: {}, utc_time_created: '2024-01-01 00:00:00', run_id: prod.run }) }],
      ['POST', '/runs/log-inputs', { run_id: prod.run, datasets: [] }],
      ['POST', '/runs/outputs', { run_id: prod.run, models: [{ model_id: prod.model, step: 0 }] }],
      ['POST', '/logged-models', { experiment_id: prod.exp, name: 'ana-model' }],
      ['PATCH', `/logged-models/${prod.model}`, { status: 'LOGGED_MODEL_UPLOAD_FAILED' }],
      ['DELETE', `/logged-models/${prod.model}`, {}],
      ['PATCH', `/logged-models/${prod.model}/tags`, { tags: [{ key: 'k', value: 'v' }] }],
      ['DELETE', `/logged-models/${prod.model}/tags/k`, {}],
      ['POST', `/logged-models/${prod.model}/params`, { params: [{ key: 'depth', value: '99' }] }],
      ['POST', '/model-versions/create', { name: 'dev-registered', source: `runs:/${prod.run}/model` }],
      ['POST', '/model-versions/create', { name: 'dev-registered', source: `models:/${prod.model}` }],
      ['POST', '/model-versions/create', { name: 'dev-registered', source: 'models:/prod-registered/1' }],
      ['POST', '/model-versions/create', { name: 'dev-registered', source: `runs:/${dev.run}/model`, run_id: prod.run }],
      ['POST', '/model-versions/create', { name: 'prod-registered', source: `runs:/${dev.run}/model` }],
      ['POST', '/registered-models/rename', { name: 'prod-registered', new_name: 'renamed-by-ana' }],
      ['PATCH', '/registered-models/update', { name: 'prod-registered', description: 'ana was here' }],
      ['POST', '/registered-models/set-tag', { name: 'prod-registered', key: 'tier', value: 'tin' }],
      ['DELETE', '/registered-models/delete-tag', { name: 'prod-registered', key: 'tier' }],
      ['POST', '/registered-models/alias', { name: 'prod-registered', alias: 'champion', version: '1' }],
      ['DELETE', '/registered-models/alias', { name: 'prod-registered', alias: 'champion' }],
      ['POST', '/model-versions/transition-stage', { name: 'prod-registered', version: '1', stage: 'Archived', archive_existing_versions: false }],
      ['PATCH', '/model-versions/update', { name: 'prod-registered', version: '1', description: 'ana was here' }],
      ['DELETE', '/model-versions/delete', { name: 'prod-registered', version: '1' }],
      ['DELETE', '/registered-models/delete', { name: 'prod-registered' }],
    ];
    for (const [method, path, body] of writes) {
      const r = await ana(method, `${D}${path}`, body);
      expect(r.status, `${method} ${path}: ${r.text.slice(0, 300)}`).toBe(404);
      expect(r.code, `${method} ${path}`).toBe('RESOURCE_DOES_NOT_EXIST');
    }
    await expectProdUntouched();
    // The admin still sees prod's experiment as it was.
    const exp = await as('admin')('GET', `/workspaces/prod${MLFLOW}/experiments/get${q({ experiment_id: prod.exp })}`);
    expect((exp.json.experiment as { name: string; lifecycle_stage: string }).name).toBe('prod-exp');
    expect((exp.json.experiment as { name: string; lifecycle_stage: string }).lifecycle_stage).toBe('active');
  });

  it("cannot attach metrics to prod's logged model from a dev run (log-metric / log-batch with prod's model_id)", async () => {
    const ana = as('ana');
    const D = `/workspaces/dev${MLFLOW}`;
    const before = await as('admin')('GET', `/workspaces/prod${MLFLOW}/logged-models/${prod.model}`);
    expect(before.status).toBe(200);
    // Each names a model id that does not exist in dev: the server must refuse (404), as it does
    // for every other reference to another workspace's resource, and write nothing to prod.
    const attempts: [string, unknown][] = [
      ['/runs/log-metric', { run_id: dev.run, key: 'injected', value: 1, timestamp: T0, step: 0, model_id: prod.model }],
      ['/runs/log-batch', { run_id: dev.run, metrics: [{ key: 'injected', value: 2, timestamp: T0, step: 1, model_id: prod.model }] }],
    ];
    const statuses: string[] = [];
    for (const [path, body] of attempts) statuses.push(`${path}: ${(await ana('POST', `${D}${path}`, body)).status}`);
    const after = await as('admin')('GET', `/workspaces/prod${MLFLOW}/logged-models/${prod.model}`);
    expect(after.json, `prod's model after ana's requests (${statuses.join(', ')})`).toEqual(before.json);
    expect(statuses).toEqual(attempts.map(([path]) => `${path}: 404`));
    await expectProdUntouched();
  });

  it('sees only dev in the workspace lists and in whoami', async () => {
    const ana = as('ana');
    const native = await ana('GET', '/api/v1/workspaces');
    expect((native.json.workspaces as { name: string }[]).map((w) => w.name)).toEqual(['dev']);
    const mlflow = await ana('GET', '/api/3.0/mlflow/workspaces');
    expect((mlflow.json.workspaces as { name: string }[]).map((w) => w.name)).toEqual(['dev']);
    expect((await ana('GET', '/api/v1/auth/whoami')).json.workspaces).toEqual([{ name: 'dev', roles: ['Owner'] }]);
    const admin = await as('admin')('GET', '/api/v1/workspaces');
    expect((admin.json.workspaces as { name: string }[]).map((w) => w.name).sort()).toEqual(['default', 'dev', 'devx', 'prod']);
  });

  it("cannot read prod's audit log, and dev's holds only dev's entries", async () => {
    const admin = as('admin');
    const prodAudit = await admin('GET', '/workspaces/prod/api/v1/audit');
    expect(prodAudit.status).toBe(200);
    expect((prodAudit.json.entries as unknown[]).length).toBeGreaterThan(0);

    const ana = as('ana');
    for (const path of ['/workspaces/prod/api/v1/audit', `/workspaces/prod/api/v1/audit${q({ all: 'true' })}`]) {
      const r = await ana('GET', path);
      expect(r.status, path).toBe(404);
      expect(NO_ROLE.exec(r.message)?.[1]).toBe('prod');
    }
    expect((await ana('GET', '/api/v1/audit', undefined, { 'x-lapis-workspace': 'prod' })).status).toBe(404);
    // all=true (every workspace) is for server admins only: refused, not silently narrowed.
    const everything = await ana('GET', `/workspaces/dev/api/v1/audit${q({ all: 'true' })}`);
    expect({ status: everything.status, code: everything.code }, everything.message).toEqual({ status: 403, code: 'PERMISSION_DENIED' });
    expect(everything.text).not.toMatch(/prod/);
    for (const path of ['/workspaces/dev/api/v1/audit', `/workspaces/dev/api/v1/audit${q({ principal: 'admin' })}`]) {
      const r = await ana('GET', path);
      expect(r.status, path).toBe(200);
      const entries = r.json.entries as { workspace: string | null; principal: string }[];
      expect(entries.length).toBeGreaterThan(0);
      expect([...new Set(entries.map((e) => e.workspace))], path).toEqual(['dev']);
    }
    // Readers and Data Scientists of dev cannot read even dev's.
    expect((await as('rita')('GET', '/workspaces/dev/api/v1/audit')).status).toBe(403);
    expect((await as('bob')('GET', '/workspaces/dev/api/v1/audit')).status).toBe(403);
  });

  it('refuses to delete dev for non-Owners, refuses prod to ana, and refuses a non-empty dev without force (409)', async () => {
    const all = await snapshot('dev', 'prod', 'devx', 'default');
    for (const who of ['rita', 'bob'] as const) {
      const r = await as(who)('DELETE', '/api/v1/workspaces/dev');
      expect({ who, status: r.status, code: r.code }, r.message).toEqual({ who, status: 403, code: 'PERMISSION_DENIED' });
      expect((await as(who)('DELETE', '/api/v1/workspaces/dev?force=true')).status).toBe(403);
    }
    const prodDelete = await as('ana')('DELETE', '/api/v1/workspaces/prod?force=true');
    expect(prodDelete.status).toBe(404);
    expect(NO_ROLE.exec(prodDelete.message)?.[1]).toBe('prod');

    const conflict = await as('ana')('DELETE', '/api/v1/workspaces/dev');
    expect({ status: conflict.status, code: conflict.code }, conflict.text).toEqual({ status: 409, code: 'CONFLICT' });
    expect(conflict.message).toMatch(/Workspace 'dev' still holds .*1 experiments?.*--force/);
    expect((conflict.json.error as { details?: unknown }).details).toMatchObject({ experiments: 1, runs: 1 });
    const forceFalse = await as('ana')('DELETE', '/api/v1/workspaces/dev?force=false');
    expect(forceFalse.status).toBe(409);

    expect(await snapshot('dev', 'prod', 'devx', 'default')).toEqual(all);
  });

  it("force-deletes dev: dev's rows and files are gone, prod's, devx's and default's are intact", async () => {
    const before = await snapshot('dev');
    // Compared with the state just before the purge (an earlier bug may already have changed prod).
    const othersBefore = await snapshot('prod', 'devx', 'default');
    expect((before.dev as Snapshot[string]).rows).toMatchObject({ workspaces: 1, experiments: 2, runs: 1, params: 1, role_assignments: 3 });
    expect(Object.keys((before.dev as Snapshot[string]).files)).toContain(`${dev.exp}/${dev.run}/artifacts/dev.txt`);

    const r = await as('ana')('DELETE', '/api/v1/workspaces/dev?force=true');
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ deleted: 'dev', removed: { experiments: 1, runs: 1, logged_models: 0 } });

    const after = (await snapshot('dev')).dev as Snapshot[string];
    // Soft, so that a leftover is reported beside (not instead of) the checks on the other workspaces.
    expect.soft(Object.fromEntries(Object.entries(after.rows).filter(([, n]) => n !== 0)), "dev's rows left after the purge").toEqual({});
    expect.soft(after.files, "dev's files left after the purge").toEqual({});
    expect(await snapshot('prod', 'devx', 'default')).toEqual(othersBefore);

    // dev is gone for everyone; ana's token still works, she is just in no workspace now.
    const ana = as('ana');
    expect((await ana('GET', `/workspaces/dev${MLFLOW}/experiments/search`)).status).toBe(404);
    expect((await ana('GET', '/api/v1/workspaces')).json.workspaces).toEqual([]);
    expect((await as('admin')('GET', '/api/v1/workspaces/dev')).status).toBe(404);
    const prodRun = await as('admin')('GET', `/workspaces/prod${MLFLOW}/runs/get${q({ run_id: prod.run })}`);
    expect(prodRun.status).toBe(200);
    const bytes = await send(base, 'GET', `/workspaces/prod${PROXY}/${prod.artifact}`, { token: tok.admin });
    expect(bytes.bytes.equals(prod.bytes)).toBe(true);
  });

  it('a workspace re-created under the same name starts empty (nothing of the deleted dev comes back)', async () => {
    await ok(as('admin')('POST', '/api/v1/workspaces', { name: 'dev' }), 201);
    const fresh = (await snapshot('dev')).dev as Snapshot[string];
    expect(fresh.files).toEqual({});
    expect(fresh.rows).toEqual({ ...Object.fromEntries(Object.keys(fresh.rows).map((k) => [k, 0])), workspaces: 1, experiments: 1 });
    const admin = as('admin');
    const registered = await admin('GET', `/workspaces/dev${MLFLOW}/registered-models/search`);
    expect(registered.json.registered_models ?? []).toEqual([]);
    // ana has no role in the new dev.
    expect((await as('ana')('GET', `/workspaces/dev${MLFLOW}/experiments/search`)).status).toBe(404);
  });
});
