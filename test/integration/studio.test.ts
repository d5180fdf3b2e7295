/**
 * The studio end to end: a real server with authentication on, data logged by the real mlflow
 * client, a real job, and headless Chromium (Debian's, through playwright-core) doing what a user
 * does. Screenshots of the main pages go to test-results/studio/ (git-ignored).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LapisClient } from '../../src/client/index.js';
import { launchChromium } from '../support/browser.js';
import { runCli } from '../support/cli.js';
import { python, startLapis, type LapisServer } from '../support/server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHOTS = join(ROOT, 'test-results', 'studio');
const PASSWORD = 'studio-e2e-password';

let server: LapisServer;
let browser: Browser;
let page: Page;
let experimentId: string;
let runs: { run_id: string; name: string }[];
let token: string;
const pageErrors: string[] = [];

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
  server = await startLapis({
    backend: 'sqlite',
    args: ['--auth', 'on'],
    env: { LAPIS_ADMIN_PASSWORD: PASSWORD, LAPIS_PYTHON: process.env.LAPIS_TEST_PYTHON as string, LAPIS_LOCAL_SLOTS: '1' },
  });
  const [logged, b] = await Promise.all([
    python('test/python/studio_data.py', ['studio-e2e'], { MLFLOW_TRACKING_URI: server.url, MLFLOW_TRACKING_USERNAME: 'admin', MLFLOW_TRACKING_PASSWORD: PASSWORD, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' }),
    launchChromium(),
  ]);
  browser = b;
  if (logged.code !== 0) throw new Error(`studio_data.py failed:\n${logged.stderr.slice(-3000)}`);
  ({ experiment_id: experimentId, runs } = JSON.parse(logged.stdout.trim().split('\n').pop() as string) as { experiment_id: string; runs: typeof runs });
  token = (await new LapisClient({ url: server.url }).auth.login('admin', PASSWORD)).token;
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // The studio runs under a strict Content-Security-Policy: anything it blocks is a bug.
  page.on('console', (m) => m.type() === 'error' && /Content Security Policy/i.test(m.text()) && pageErrors.push(m.text()));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the studio', () => {
  it('is served at / with a login page, and never answers for the API', async () => {
    const api = await fetch(`${server.url}/api/v1/no-such-route`, { headers: { accept: 'text/html' } });
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('ENDPOINT_NOT_FOUND');
    const mlflow = await fetch(`${server.url}/ajax-api/2.0/mlflow/nope`, { headers: { accept: 'text/html' } });
    expect((await mlflow.json()) as object).toHaveProperty('error_code');
    const prefixed = await fetch(`${server.url}/workspaces/default/w/default/experiments`, { headers: { accept: 'text/html' } });
    expect(prefixed.status).toBe(404);
    // …except a workspace's bare URL, where the mlflow client's printed links point.
    expect((await fetch(`${server.url}/workspaces/default/`, { headers: { accept: 'text/html' } })).status).toBe(200);
    const deep = await fetch(`${server.url}/w/default/runs/abc?tab=charts`, { headers: { accept: 'text/html' } });
    expect(deep.status).toBe(200);
    expect(await deep.text()).toContain('<div id="root">');
    expect(deep.headers.get('content-security-policy')).toMatch(/script-src 'self' 'sha256-[^']+'/);
    expect((await fetch(`${server.url}/assets/no-such-file.js`)).status).toBe(404);
    // A page URL with a dot (an asset named iris-1.0) is a page, not a missing file.
    expect((await fetch(`${server.url}/w/default/data/iris-1.0`, { headers: { accept: 'text/html' } })).status).toBe(200);
    // An encoded ../ never reaches files outside the build.
    const escape = await fetch(`${server.url}/assets/..%2f..%2f..%2fpackage.json`);
    expect(escape.status).toBe(404);
    expect(await escape.text()).not.toContain('"name": "lapis"');
    expect((await fetch(`${server.url}/health`)).status).toBe(200);

    await page.goto(`${server.url}/w/default/experiments/${experimentId}`);
    await page.waitForURL(/\/login\?next=/);
    await shot('login');
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: /password/i }).waitFor();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Back where the link pointed, signed in.
    await page.waitForURL(`${server.url}/w/default/experiments/${experimentId}`);
    await page.getByRole('heading', { name: 'studio-e2e' }).waitFor();
  });

  it('lists runs, filters them with the search grammar, and marks a bad token', async () => {
    await page.getByText('5 runs').waitFor();
    expect(await page.getByRole('row').count()).toBe(6);
    await shot('runs');
    await page.keyboard.press('/');
    await page.keyboard.type("params.alpha = '0.5'");
    await page.keyboard.press('Enter');
    await page.getByText('1 run', { exact: true }).waitFor();
    expect(page.url()).toContain('filter=params.alpha');
    expect(await page.getByRole('gridcell', { name: 'ridge-0.5', exact: true }).isVisible()).toBe(true);

    await page.getByLabel('Filter runs').fill('metrics.loss < 1 and params.alpha === 3');
    await page.keyboard.press('Enter');
    const bad = page.getByTestId('bad-token');
    await bad.waitFor();
    expect(await bad.textContent()).toBe('===');
    expect(await page.locator('#filter-error').textContent()).toMatch(/position 34/);
    await shot('runs-filter-error');
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByText('5 runs').waitFor();
  });

  it('sorts by a column from the header', async () => {
    await page.getByRole('columnheader', { name: 'loss' }).getByRole('button').click();
    await page.waitForURL(/order=metrics\.loss/);
    const first = () => page.getByRole('row').nth(1).getByRole('gridcell').nth(1).textContent();
    expect(await first()).toBe('ridge-5.0'); // the highest loss, descending
    await page.getByRole('columnheader', { name: 'loss' }).getByRole('button').click();
    await page.waitForURL(/order=metrics\.loss(%20|\+)ASC/);
    await expect.poll(first).toBe('ridge-0.1');
  });

  it('opens a run: parameters, a metric chart with log scale and smoothing, artifact previews', async () => {
    const run = runs[0] as { run_id: string };
    // The link the mlflow client prints ("View run at …/#/experiments/1/runs/…") opens the run here.
    await page.goto(`${server.url}/#/experiments/${experimentId}/runs/${run.run_id}`);
    await page.waitForURL(`${server.url}/w/default/runs/${run.run_id}`);
    await page.getByRole('heading', { name: 'Parameters' }).waitFor();
    await expect(page.getByRole('row', { name: 'alpha 0.1' }).isVisible()).resolves.toBe(true);
    await shot('run');
    await page.getByRole('tab', { name: 'Charts' }).click();
    const chart = page.getByTestId('chart-loss');
    await chart.locator('canvas').waitFor();
    await page.getByLabel('Log scale').check();
    await page.waitForURL(/log=1/);
    await page.getByLabel('X axis').selectOption('relative');
    await page.waitForURL(/x=relative/);
    await chart.locator('canvas').waitFor();
    expect(await chart.locator('.u-legend').textContent()).toContain('seconds');
    await shot('run-charts');

    await page.getByRole('tab', { name: 'Artifacts' }).click();
    const preview = page.getByTestId('artifact-preview');
    await page.getByRole('link', { name: 'config.json' }).click();
    await expect.poll(() => preview.textContent()).toContain('"layers"');
    await page.getByRole('link', { name: 'weights.json' }).click();
    await preview.getByRole('cell', { name: '-1.25' }).waitFor();
    await page.getByRole('link', { name: 'curve.png' }).click();
    await preview.locator('img').waitFor();
    expect(await preview.locator('img').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(100);
    await page.getByRole('link', { name: 'model/MLmodel' }).click();
    await expect.poll(() => preview.textContent()).toContain('flavors');
    await shot('run-artifacts');
    // The tabs follow the arrow keys.
    await page.getByRole('tab', { name: 'Artifacts' }).focus();
    await page.keyboard.press('ArrowRight');
    await page.waitForURL(/tab=logs/);
    await page.getByText('This run was not made by a job').waitFor();
  });

  it('compares two runs: overlaid curves, parameter diff, parallel coordinates', async () => {
    await page.goto(`${server.url}/w/default/experiments/${experimentId}`);
    await page.getByText('5 runs').waitFor();
    // Keyboard: focus the table, select the first two rows with Space.
    await page.getByRole('grid', { name: 'Runs' }).focus();
    await page.keyboard.press('Space');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Space');
    await page.getByRole('button', { name: 'Compare (2)' }).click();
    await page.waitForURL(/\/compare\?runs=/);
    const diff = page.getByTestId('param-diff');
    await diff.waitFor();
    expect(await diff.getByRole('row').count()).toBe(3); // header, alpha, solver: fit_intercept is the same
    await page.locator('svg.pcoords polyline').nth(1).waitFor();
    expect(await page.locator('svg.pcoords polyline').count()).toBe(2);
    await page.getByTestId('chart-accuracy').locator('canvas').waitFor();
    expect(await page.getByTestId('chart-accuracy').locator('.u-legend .u-series').count()).toBe(3); // x + two runs
    await shot('compare');
  });

  it("follows a job's live log while it runs, then shows its end and its run", async () => {
    const submitted = await runCli(['job', 'create', '-f', join(ROOT, 'test/jobs/sleeper-job.yml'), '--name', 'studio_sleeper', '-o', 'json'], { url: server.url, env: { LAPIS_TOKEN: token } });
    expect(submitted.code, submitted.stderr).toBe(0);
    await page.goto(`${server.url}/w/default/jobs`);
    await page.getByRole('gridcell', { name: 'studio sleeper' }).waitFor();
    await shot('jobs');
    await page.getByRole('link', { name: 'studio sleeper' }).click();
    const log = page.getByTestId('job-log');
    // Lines arrive while the job is still running: the stream is live, not a replay at the end.
    await expect.poll(() => log.textContent(), { timeout: 60_000 }).toMatch(/tick 3\b/);
    expect(await page.getByText('● live').isVisible()).toBe(true);
    const job = await new LapisClient({ url: server.url, token }).jobs.get('studio_sleeper');
    expect(job.status).toBe('Running');
    await shot('job-running');
    await page.getByText('ended: Completed').waitFor({ timeout: 60_000 });
    expect(await log.textContent()).toContain('finished');
    const outputs = page.getByTestId('job-outputs');
    await expect.poll(() => outputs.textContent()).toMatch(/result.*1 files/);
    await outputs.getByText('files', { exact: true }).click();
    await outputs.getByText('done.txt').waitFor();
    await page.getByRole('link', { name: job.run_id }).click();
    await page.waitForURL(new RegExp(`/runs/${job.run_id}`));
    await page.getByText('lapis.job').waitFor();
  });

  it("opens a model's lineage, a data asset's preview and column profile, and the compute queue", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lapis-studio-'));
    await writeFile(join(dir, 'iris.csv'), 'sepal_length,species\n5.1,setosa\n4.9,setosa\n6.3,virginica\n,versicolor\n');
    await writeFile(join(dir, 'data.yml'), 'name: iris-sample\ntype: uri_file\npath: ./iris.csv\ndescription: four flowers\n');
    const created = await runCli(['data', 'create', '-f', join(dir, 'data.yml')], { url: server.url, env: { LAPIS_TOKEN: token } });
    await rm(dir, { recursive: true, force: true });
    expect(created.code, created.stderr).toBe(0);

    await page.goto(`${server.url}/w/default/models`);
    await page.getByRole('link', { name: 'studio-model' }).click();
    await page.getByRole('tab', { name: '1 @champion' }).waitFor();
    const graph = page.getByTestId('lineage-graph');
    await graph.waitFor();
    expect(await graph.textContent()).toMatch(/model version.*run.*ridge-0\.1.*experiment.*studio-e2e/s);
    await shot('model-lineage');
    // The run in the graph links to its page.
    await graph.getByText('ridge-0.1').click();
    await page.waitForURL(new RegExp(`/runs/${(runs[0] as { run_id: string }).run_id}`));

    await page.goto(`${server.url}/w/default/data`);
    await page.getByRole('link', { name: 'iris-sample' }).click();
    const preview = page.getByTestId('data-preview');
    await preview.getByRole('cell', { name: 'virginica' }).waitFor();
    const profile = page.getByTestId('data-profile');
    expect(await profile.getByRole('row', { name: /sepal_length/ }).textContent()).toMatch(/number\s*1\s*3\s*4\.9\s*5\.433\s*6\.3/);
    expect(await profile.getByRole('row', { name: /species/ }).textContent()).toContain('setosa (2)');
    await shot('data-asset');

    await page.goto(`${server.url}/w/default/computes`);
    await page.getByRole('region', { name: 'Compute local' }).waitFor();
    expect(await page.getByRole('region', { name: 'Compute local' }).textContent()).toMatch(/0 running, 0 queued on 1 slot/);
  });

  it("shows an environment's spec and the log of its build", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lapis-studio-'));
    const cli = (args: string[]) => runCli(args, { url: server.url, env: { LAPIS_TOKEN: token }, timeoutMs: 150_000 });
    try {
      await writeFile(join(dir, 'env.yml'), JSON.stringify({ name: 'studio-env', conda_file: { dependencies: ['python=3.11'] } }));
      await writeFile(join(dir, 'job.yml'), JSON.stringify({ type: 'command', command: 'python -c "print(1)"', environment: 'azureml:studio-env@latest' }));
      for (const args of [['environment', 'create', '-f', join(dir, 'env.yml')], ['job', 'create', '-f', join(dir, 'job.yml'), '--name', 'studio_env_job', '--stream']]) {
        const res = await cli(args);
        expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await page.goto(`${server.url}/w/default/environments`);
    await page.getByRole('link', { name: 'studio-env' }).click();
    expect(await page.getByTestId('asset-spec').textContent()).toContain('python=3.11');
    const build = page.getByTestId('build-log');
    await build.waitFor();
    expect(await build.textContent()).toContain('-m venv');
    await page.getByRole('link', { name: 'studio_env_job' }).waitFor();
    await shot('environment');
  });

  it("changes an endpoint's traffic split and sees it applied, and tests a deployment", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lapis-studio-'));
    const cli = (args: string[]) => runCli(args, { url: server.url, env: { LAPIS_TOKEN: token }, timeoutMs: 120_000 });
    try {
      for (const color of ['blue', 'green']) {
        await mkdir(join(dir, color));
        await writeFile(join(dir, color, 'score.py'), `def init():\n    pass\n\ndef run(raw_data):\n    return {"from": "${color}"}\n`);
        const spec = { name: color, endpoint_name: 'studio-ep', model: 'azureml:studio-model:1', code_configuration: { code: `./${color}`, scoring_script: 'score.py' }, environment: { image: 'python:3.11-slim' } };
        await writeFile(join(dir, `${color}.yml`), JSON.stringify(spec));
      }
      await writeFile(join(dir, 'ep.yml'), JSON.stringify({ name: 'studio-ep', auth_mode: 'key' }));
      for (const args of [['online-endpoint', 'create', '-f', join(dir, 'ep.yml')], ['online-deployment', 'create', '-f', join(dir, 'blue.yml'), '--all-traffic'], ['online-deployment', 'create', '-f', join(dir, 'green.yml')]]) {
        const res = await cli(args);
        expect(res.code, res.stderr).toBe(0);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    await page.goto(`${server.url}/w/default/endpoints`);
    await page.getByRole('link', { name: 'studio-ep' }).click();
    const now = page.getByTestId('traffic-now');
    await expect.poll(() => now.textContent()).toContain('blue 100%');
    // A split that does not add up is refused by the server, and nothing changes.
    await page.getByLabel('Traffic to blue (%)').fill('60');
    await page.getByLabel('Traffic to green (%)').fill('30');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('alert').filter({ hasText: /100/ }).waitFor();
    const before = (await new LapisClient({ url: server.url, token }).onlineEndpoints.get('studio-ep')).traffic;
    expect([before.blue, before.green ?? 0]).toEqual([100, 0]);
    await page.getByLabel('Traffic to blue (%)').fill('70');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => now.textContent()).toMatch(/blue 70%.*green 30%/);
    expect((await new LapisClient({ url: server.url, token }).onlineEndpoints.get('studio-ep')).traffic).toEqual({ blue: 70, green: 30 });

    await page.getByLabel('Pin a deployment').selectOption('green');
    await page.getByRole('button', { name: 'Send' }).click();
    const answer = page.getByTestId('test-answer');
    await answer.waitFor({ timeout: 30_000 });
    expect(await answer.textContent()).toMatch(/HTTP 200.*from green.*"from": "green"/s);
    await page.getByText('requests/s').first().waitFor();
    // The deployment's log, live: the scoring process's start-up lines, then those of the one picked.
    const log = page.getByTestId('deployment-log');
    await expect.poll(() => log.textContent(), { timeout: 15_000 }).toMatch(/\[instance 0\] .*studio-ep\/blue: listening on http:\/\/127\.0\.0\.1/);
    await page.getByLabel('Log of deployment', { exact: true }).selectOption('green');
    await expect.poll(() => log.textContent(), { timeout: 15_000 }).toMatch(/studio-ep\/green: listening on/);
    await shot('endpoint');
  });

  it('shows members and roles, creates and revokes a token, and lists the audit log', async () => {
    await new LapisClient({ url: server.url, token }).users.create('ana', { password: 'ana-password-1' });
    await page.goto(`${server.url}/w/default/access`);
    await page.getByLabel('Principal', { exact: true }).fill('ana');
    await page.getByLabel('Role', { exact: true }).selectOption('Reader');
    await page.getByRole('button', { name: 'Assign' }).click();
    await page.getByTestId('members').getByRole('row', { name: /ana.*Reader/ }).waitFor();
    await page.getByLabel('Token name').fill('studio-ci');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.getByTestId('new-token').textContent()) as string;
    expect(await new LapisClient({ url: server.url, token: secret }).auth.whoami()).toMatchObject({ name: 'admin' });
    await page.getByRole('button', { name: 'Revoke studio-ci' }).click();
    await page.getByTestId('tokens').getByRole('row', { name: /studio-ci.*revoked/ }).waitFor();
    await expect(new LapisClient({ url: server.url, token: secret }).auth.whoami()).rejects.toThrow();
    // The audit log (written in the background) shows the role assignment once the page reloads.
    await expect
      .poll(async () => {
        await page.reload();
        await page.getByTestId('audit').waitFor();
        return page.getByTestId('audit').getByRole('row', { name: /roles\/write.*principal=ana/ }).count();
      })
      .toBeGreaterThan(0);
    await shot('access');
  });

  it('has a workspace switcher, keyboard shortcuts and a dark mode', async () => {
    await new LapisClient({ url: server.url, token }).workspaces.create('team-b');
    await page.goto(`${server.url}/w/default/jobs`);
    await page.getByLabel('Workspace').selectOption('team-b');
    await page.waitForURL(/\/w\/team-b\/jobs$/);
    await page.getByText('No jobs yet').waitFor();
    await page.keyboard.press('g');
    await page.keyboard.press('e');
    await page.waitForURL(/\/w\/team-b\/experiments$/);
    await page.keyboard.press('t');
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    await page.goto(`${server.url}/w/default/experiments/${experimentId}`);
    await page.getByText('5 runs').waitFor();
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    await shot('runs-dark');
    const session = (await page.evaluate("localStorage.getItem('lapis.token')")) as string;
    expect(await new LapisClient({ url: server.url, token: session }).auth.whoami()).toMatchObject({ name: 'admin' });
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    // The token was revoked, not just forgotten.
    await expect(new LapisClient({ url: server.url, token: session }).auth.whoami()).rejects.toThrow(/token/i);
    expect(pageErrors).toEqual([]);
  });
});
