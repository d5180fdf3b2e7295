import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { python, startLapis } from '../support/server.js';

/**
 * The real `mlflow` Python client against a real Lapis server: the full tracking scenario
 * (test/python/tracking_scenario.py asserts every value it reads back) on each backend pair,
 * and through both of MLflow's ways of naming a workspace.
 */
const SCENARIO = 'test/python/tracking_scenario.py';
const BACKENDS = [
  { backend: 'sqlite', artifacts: 'file' },
  { backend: 'postgres', artifacts: 's3' },
] as const;

interface ScenarioResult {
  ok: boolean;
  checks: number;
  experiment_id: string;
  run_ids: string[];
}

async function runScenario(trackingUri: string, env: Record<string, string> = {}): Promise<ScenarioResult> {
  const name = `scenario-${randomBytes(4).toString('hex')}`;
  const res = await python(SCENARIO, [name], { MLFLOW_TRACKING_URI: trackingUri, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0', ...env });
  if (res.code !== 0) throw new Error(`scenario failed (exit ${res.code}):\n${res.stdout}\n${res.stderr.slice(-4000)}`);
  return JSON.parse(res.stdout.trim().split('\n').pop() as string) as ScenarioResult;
}

async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe.each(BACKENDS)('mlflow client on $backend + $artifacts', ({ backend, artifacts }) => {
  let server: Awaited<ReturnType<typeof startLapis>>;

  beforeAll(async () => {
    server = await startLapis({ backend, artifacts });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('runs the whole tracking scenario in the default workspace', async () => {
    const result = await runScenario(server.url);
    expect(result.ok).toBe(true);
    expect(result.checks).toBeGreaterThanOrEqual(170);
    // Every run the client made is stored under the id it was given, readable through the REST API.
    for (const id of result.run_ids) {
      const res = await fetch(`${server.url}/api/2.0/mlflow/runs/get?run_id=${id}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { run: { info: { run_id: string } } }).run.info.run_id).toBe(id);
    }
    expect(result.run_ids.length).toBeGreaterThanOrEqual(15);
  });

  it('registers, aliases, loads and predicts through the model registry', async () => {
    const res = await python('test/python/registry_scenario.py', [`registry-${randomBytes(4).toString('hex')}`], {
      MLFLOW_TRACKING_URI: server.url,
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
    });
    expect(res.code, `${res.stdout}\n${res.stderr.slice(-3000)}`).toBe(0);
    const result = JSON.parse(res.stdout.trim().split('\n').pop() as string) as { ok: boolean; checks: number };
    expect(result).toMatchObject({ ok: true });
    expect(result.checks).toBeGreaterThanOrEqual(27);
  });

  it('isolates workspaces named by URL prefix and by the X-MLFLOW-WORKSPACE header', async () => {
    const created = await post(`${server.url}/api/v1/workspaces`, { name: 'dev' });
    expect(created.status).toBe(201);

    const viaPrefix = await runScenario(`${server.url}/workspaces/dev`);
    expect(viaPrefix.ok).toBe(true);

    const viaHeader = await python('-c', [
      [
        'import mlflow',
        "mlflow.set_experiment('header-experiment')",
        'with mlflow.start_run() as run:',
        "    mlflow.log_metric('m', 1.5)",
        "    mlflow.log_text('hello', 'note.txt')",
        'print(run.info.run_id)',
      ].join('\n'),
    ], { MLFLOW_TRACKING_URI: server.url, MLFLOW_WORKSPACE: 'dev', MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' });
    expect(viaHeader.code, viaHeader.stderr).toBe(0);
    const headerRunId = viaHeader.stdout.trim().split('\n').pop() as string;

    const names = async (prefix: string): Promise<string[]> => {
      const res = await post(`${server.url}${prefix}/api/2.0/mlflow/experiments/search`, { view_type: 'ALL' });
      return ((await res.json()) as { experiments: { name: string }[] }).experiments.map((e) => e.name);
    };
    const dev = await names('/workspaces/dev');
    const def = await names('');
    expect(dev).toContain('header-experiment');
    expect(def).not.toContain('header-experiment');
    expect(dev.filter((n) => n !== 'Default').some((n) => def.includes(n))).toBe(false);

    // The dev run is invisible from the default workspace, by id and through the artifact proxy.
    const fromDefault = await fetch(`${server.url}/api/2.0/mlflow/runs/get?run_id=${headerRunId}`);
    expect(fromDefault.status).toBe(404);
    const fromDev = await fetch(`${server.url}/workspaces/dev/api/2.0/mlflow/runs/get?run_id=${headerRunId}`);
    expect(fromDev.status).toBe(200);
    const run = ((await fromDev.json()) as { run: { info: { experiment_id: string } } }).run;
    const artifactPath = `${run.info.experiment_id}/${headerRunId}/artifacts/note.txt`;
    expect((await fetch(`${server.url}/workspaces/dev/api/2.0/mlflow-artifacts/artifacts/${artifactPath}`)).status).toBe(200);
    expect((await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/${artifactPath}`)).status).toBe(404);
  });
});
