/**
 * The real `mlflow` Python client under authentication (test/python/role_client.py): a token of each
 * built-in role in workspace `dev` (MLFLOW_TRACKING_TOKEN, tracking URI `<url>/workspaces/dev`), no
 * token at all, and basic auth (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD). The script
 * reports each step as one JSON line; this file decides what each identity should have seen.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { python, startLapis, type LapisServer } from '../support/server.js';

const SCRIPT = 'test/python/role_client.py';
const ADMIN_PASSWORD = 'admin-password-for-mlflow-tests';
const MLFLOW = '/api/2.0/mlflow';
const ROLES = ['Owner', 'Contributor', 'Reader', 'Data Scientist', 'Compute Operator'] as const;
type Role = (typeof ROLES)[number];
const USER: Record<Role, string> = { Owner: 'owner', Contributor: 'contributor', Reader: 'reader', 'Data Scientist': 'data-scientist', 'Compute Operator': 'compute-operator' };
const password = (user: string): string => `${user}-long-password`;

interface Step {
  step: string;
  ok: boolean;
  value?: unknown;
  error_code?: string;
  error?: string;
}

describe('the mlflow client with each role', () => {
  let server: LapisServer;
  let adminToken = '';
  const tokens = {} as Record<Role, string>;
  const shared = { exp: '', run: '', note: 'notes written by the admin\n' };

  const api = async (method: string, path: string, body?: unknown, raw?: Buffer): Promise<Record<string, unknown>> => {
    const headers: Record<string, string> = { authorization: `Bearer ${adminToken}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${server.url}${path}`, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };

  /** Runs role_client.py with exactly the identity given (none inherited from this process). */
  const client = async (args: string[], identity: Record<string, string>): Promise<Record<string, Step>> => {
    const res = await python(SCRIPT, args, {
      MLFLOW_TRACKING_URI: `${server.url}/workspaces/dev`,
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
      MLFLOW_TRACKING_TOKEN: '',
      MLFLOW_TRACKING_USERNAME: '',
      MLFLOW_TRACKING_PASSWORD: '',
      MLFLOW_WORKSPACE: '',
      ...identity,
    });
    expect(res.code, `${SCRIPT} ${args.join(' ')} exited ${res.code}\n${res.stdout}\n${res.stderr.slice(-3000)}`).toBe(0);
    const steps: Record<string, Step> = {};
    for (const line of res.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const s = JSON.parse(line) as Step;
      steps[s.step] = s;
    }
    return steps;
  };

  /** `ok` or the error code, per step: compact to compare and readable when it differs. */
  const outcomes = (steps: Record<string, Step>): Record<string, string> => Object.fromEntries(Object.values(steps).map((s) => [s.step, s.ok ? 'ok' : (s.error_code ?? 'error')]));

  beforeAll(async () => {
    server = await startLapis({ backend: 'sqlite', args: ['--auth', 'on'], env: { LAPIS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    const login = await fetch(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
    expect(login.status).toBe(200);
    adminToken = ((await login.json()) as { token: string }).token;
    await api('POST', '/api/v1/workspaces', { name: 'dev' });
    for (const role of ROLES) {
      await api('POST', '/api/v1/users', { name: USER[role], password: password(USER[role]) });
      await api('POST', '/workspaces/dev/api/v1/role-assignments', { principal: USER[role], role });
      tokens[role] = (await api('POST', '/api/v1/tokens', { principal: USER[role], name: 'mlflow' })).token as string;
    }
    // A run made by the admin, for the roles to read.
    const D = `/workspaces/dev${MLFLOW}`;
    shared.exp = (await api('POST', `${D}/experiments/create`, { name: 'shared' })).experiment_id as string;
    shared.run = ((await api('POST', `${D}/runs/create`, { experiment_id: shared.exp, run_name: 'admin-run' })).run as { info: { run_id: string } }).info.run_id;
    await api('POST', `${D}/runs/log-batch`, {
      run_id: shared.run,
      params: [{ key: 'alpha', value: '0.5' }],
      metrics: [0, 1].map((step) => ({ key: 'rmse', value: 1 - step / 4, timestamp: Date.now(), step })),
    });
    await api('PUT', `/workspaces/dev/api/2.0/mlflow-artifacts/artifacts/${shared.exp}/${shared.run}/artifacts/notes.txt`, undefined, Buffer.from(shared.note));
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
  });

  const WRITES = ['log_metric', 'set_tag', 'log_artifact', 'create_experiment'] as const;
  const READS = ['search_runs', 'get_run', 'get_metric_history', 'download_artifacts', 'list_artifacts'] as const;
  const EXPECTED: Record<Role, { reads: string; writes: string }> = {
    Owner: { reads: 'ok', writes: 'ok' },
    Contributor: { reads: 'ok', writes: 'ok' },
    'Data Scientist': { reads: 'ok', writes: 'ok' },
    Reader: { reads: 'ok', writes: 'PERMISSION_DENIED' },
    'Compute Operator': { reads: 'PERMISSION_DENIED', writes: 'PERMISSION_DENIED' },
  };
  const expectedOutcomes = (role: Role): Record<string, string> => ({
    ...Object.fromEntries(READS.map((s) => [s, EXPECTED[role].reads])),
    ...Object.fromEntries(WRITES.map((s) => [s, EXPECTED[role].writes])),
  });

  it('each role can do exactly what its definition allows, with MLFLOW_TRACKING_TOKEN', async () => {
    const results = await Promise.all(
      ROLES.map(async (role) => [role, await client(['probe', shared.exp, shared.run, 'notes.txt', `probe-${USER[role]}-${randomBytes(3).toString('hex')}`], { MLFLOW_TRACKING_TOKEN: tokens[role] })] as const),
    );
    for (const [role, steps] of results) {
      expect({ role, ...outcomes(steps) }).toEqual({ role, ...expectedOutcomes(role) });
      if (EXPECTED[role].reads === 'ok') {
        expect(steps.search_runs?.value).toContain(shared.run);
        expect(steps.download_artifacts?.value).toBe(shared.note);
        expect(steps.get_run?.value).toEqual({ alpha: '0.5' });
      }
      for (const s of Object.values(steps).filter((x) => !x.ok)) expect(s.error, `${role} ${s.step}`).toMatch(new RegExp(`may not \\S+ in workspace 'dev'`));
    }
    // The allowed roles' writes landed; every write of a denied role is in the audit log as denied.
    const run = (await api('GET', `/workspaces/dev${MLFLOW}/runs/get?run_id=${shared.run}`)).run as { data: { tags?: { key: string }[] } };
    expect(run.data.tags?.filter((t) => t.key === 'probe')).toHaveLength(1);
    for (const role of ['Reader', 'Compute Operator'] as const) {
      const entries = (await api('GET', `/workspaces/dev/api/v1/audit?principal=${USER[role]}&action=runs/write`)).entries as { outcome: string; status: number }[];
      expect(entries.length, role).toBeGreaterThanOrEqual(2); // log_metric, set_tag
      expect(new Set(entries.map((e) => `${e.outcome} ${e.status}`)), role).toEqual(new Set(['denied 403']));
    }
  });

  it('a Reader can search runs and download artifacts, but log_metric fails with PERMISSION_DENIED', async () => {
    const steps = await client(['probe', shared.exp, shared.run, 'notes.txt', 'reader-experiment'], { MLFLOW_TRACKING_TOKEN: tokens.Reader });
    expect(steps.search_runs).toMatchObject({ ok: true });
    expect(steps.search_runs?.value).toEqual([shared.run]);
    expect(steps.download_artifacts).toMatchObject({ ok: true, value: shared.note });
    expect(steps.log_metric).toMatchObject({ ok: false, error_code: 'PERMISSION_DENIED' });
    expect(steps.log_metric?.error).toContain("'reader' may not runs/write in workspace 'dev'");
  });

  it('a Data Scientist can create an experiment and log a run with params, metrics, artifacts and a model', async () => {
    const name = `ds-${randomBytes(4).toString('hex')}`;
    const steps = await client(['scientist', name], { MLFLOW_TRACKING_TOKEN: tokens['Data Scientist'] });
    expect(outcomes(steps)).toEqual({ create_experiment: 'ok', log_run: 'ok', log_model: 'ok', list_artifacts: 'ok', result: 'ok' });
    const { experiment_id: expId, run_id: runId } = steps.result?.value as { experiment_id: string; run_id: string };
    expect(steps.list_artifacts?.value).toEqual(expect.arrayContaining(['config.json', 'data', 'notes']));
    expect((steps.log_model?.value as { prediction: number }).prediction).toBeCloseTo(2, 6);

    // What the client logged is in dev, read back by the admin through the REST API.
    const D = `/workspaces/dev${MLFLOW}`;
    const exp = (await api('GET', `${D}/experiments/get-by-name?experiment_name=${name}`)).experiment as { experiment_id: string };
    expect(exp.experiment_id).toBe(expId);
    const run = (await api('GET', `${D}/runs/get?run_id=${runId}`)).run as { info: { experiment_id: string; status: string; user_id: string }; data: { params: { key: string; value: string }[]; tags: { key: string; value: string }[] } };
    expect(run.info).toMatchObject({ experiment_id: expId, status: 'FINISHED' });
    expect(run.data.params).toEqual([{ key: 'alpha', value: '0.5' }]);
    expect(run.data.tags).toEqual(expect.arrayContaining([{ key: 'owner', value: 'data-scientist' }]));
    const history = (await api('GET', `${D}/metrics/get-history?run_id=${runId}&metric_key=rmse`)).metrics as { step: number; value: number }[];
    expect(history.map((m) => [m.step, m.value])).toEqual([
      [0, 1],
      [1, 0.5],
      [2, 1 / 3],
    ]);
    const files = (await api('GET', `/workspaces/dev/api/v1/runs/${runId}/artifacts?recursive=true`)).files as { path: string }[];
    expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(['config.json', 'data/data.csv', 'notes/hello.txt']));
    const hello = await fetch(`${server.url}/workspaces/dev/api/v1/runs/${runId}/artifacts/notes/hello.txt`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(await hello.text()).toBe('hello from a data scientist');
    const models = (await api('POST', `${D}/logged-models/search`, { experiment_ids: [expId] })).models as { info: { model_id: string; status: string } }[];
    expect(models.map((m) => [m.info.model_id, m.info.status])).toEqual([[(steps.log_model?.value as { model_id: string }).model_id, 'LOGGED_MODEL_READY']]);
    // Invisible from the default workspace.
    const fromDefault = await fetch(`${server.url}${MLFLOW}/runs/get?run_id=${runId}`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(fromDefault.status).toBe(404);
  });

  it('without a token every call fails with UNAUTHENTICATED', async () => {
    const steps = await client(['anonymous'], {});
    expect(outcomes(steps)).toEqual({ search_experiments: 'UNAUTHENTICATED', create_experiment: 'UNAUTHENTICATED' });
    expect(steps.search_experiments?.error).toMatch(/Authentication required.*MLFLOW_TRACKING_TOKEN/);
  });

  it('basic auth with MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD works, with the role of that user', async () => {
    const reader = await client(['probe', shared.exp, shared.run, 'notes.txt', 'basic-reader-experiment'], { MLFLOW_TRACKING_USERNAME: USER.Reader, MLFLOW_TRACKING_PASSWORD: password(USER.Reader) });
    expect(outcomes(reader)).toEqual(expectedOutcomes('Reader'));
    expect(reader.download_artifacts?.value).toBe(shared.note);

    const ds = await client(['probe', shared.exp, shared.run, 'notes.txt', `ds-basic-${randomBytes(4).toString('hex')}`], {
      MLFLOW_TRACKING_USERNAME: USER['Data Scientist'],
      MLFLOW_TRACKING_PASSWORD: password(USER['Data Scientist']),
    });
    expect(outcomes(ds)).toEqual(expectedOutcomes('Data Scientist'));

    // A token is accepted as the basic-auth password too.
    const viaToken = await client(['probe', shared.exp, shared.run, 'notes.txt', 'basic-token-experiment'], { MLFLOW_TRACKING_USERNAME: 'anything', MLFLOW_TRACKING_PASSWORD: tokens.Reader });
    expect(outcomes(viaToken)).toEqual(expectedOutcomes('Reader'));
  });

  it('basic auth with a wrong password fails with UNAUTHENTICATED', async () => {
    const steps = await client(['anonymous'], { MLFLOW_TRACKING_USERNAME: USER.Owner, MLFLOW_TRACKING_PASSWORD: 'not-the-password' });
    expect(outcomes(steps)).toEqual({ search_experiments: 'UNAUTHENTICATED', create_experiment: 'UNAUTHENTICATED' });
    expect(steps.search_experiments?.error).toContain('Wrong user name or password');
  });
});
