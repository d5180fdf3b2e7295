/**
 * Studio benchmark: the runs page of an experiment with 100,000 runs, first meaningful paint in
 * headless Chromium, Lapis's studio and MLflow's own UI side by side on the same runs; the metric
 * chart of 10 runs × 100,000 steps; the built UI's initial JavaScript, gzipped.
 *
 *   npm run bench:ui [-- --runs N] [--repeat N] [--no-build] [--no-write]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../test/support/browser.js';
import { HttpClient } from '../lib/http.js';
import { markdownTable, textTable, writeDocsSection } from '../lib/report.js';
import { killAllNow, startLapis, startMlflow, stopAll } from '../lib/servers.js';
import { seedRuns, writeRunsTsv } from '../tracking/dataset.js';
import { seedLapisSql } from '../tracking/seed_lapis.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WORK = join(ROOT, 'bench/.work/ui');
const DOCS = join(ROOT, 'docs/benchmarks.md');

const args = process.argv.slice(2);
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const RUNS = Number(option('--runs') ?? 100_000);
const REPEAT = Number(option('--repeat') ?? 5);
const BUILD = !args.includes('--no-build');
const WRITE = !args.includes('--no-write');
const CHART = { runs: 10, steps: 100_000, perRequest: 1000 };
const TARGETS = { paintMs: 1000, chartMs: 500, initialJsKiB: 300 };
const PAINT_TIMEOUT_MS = 120_000;
/** The 1-minute load average as each measurement starts: other processes on the machine skew browser timings. */
const LOAD: number[] = [];

const started = performance.now();
const log = (msg: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${msg}`);
const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

function run(cmd: string, argv: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? ok(out.trim()) : fail(new Error(`${cmd} ${argv.join(' ')} exited with ${code}:\n${err.slice(-3000)}`))));
  });
}

// ---------------------------------------------------------------------------------------------
// Initial JavaScript: what index.html loads before anything else (its module script and the
// chunks it preloads); the lazily loaded pages are counted apart.

function bundleSizes(): { initialGz: number; initialFiles: string[]; totalGz: number } {
  const dir = join(ROOT, 'dist/ui');
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const initial = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1] as string);
  const gz = (file: string) => gzipSync(readFileSync(join(dir, file)), { level: 9 }).length;
  const all = readFileSync(join(dir, '.vite/manifest.json'), 'utf8');
  const files = [...new Set([...all.matchAll(/"file": "([^"]+)"/g)].map((m) => m[1] as string))].filter((f) => f.endsWith('.js'));
  return { initialGz: initial.filter((f) => f.endsWith('.js')).reduce((s, f) => s + gz(f), 0), initialFiles: initial, totalGz: files.reduce((s, f) => s + gz(f), 0) };
}

// ---------------------------------------------------------------------------------------------
// First meaningful paint: from navigation start to the first frame painted after a run name of
// the seeded data is in the DOM (a MutationObserver installed before any page script runs).

const PAINT_PROBE = `
  window.__firstRunPaint = new Promise((resolve) => {
    const hit = () => {
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) if (/^run-\\d{6}$/.test(n.nodeValue.trim())) return true;
      return false;
    };
    const start = () => {
      const mo = new MutationObserver(() => {
        if (!hit()) return;
        mo.disconnect();
        requestAnimationFrame(() => setTimeout(() => resolve(performance.now()), 0));
      });
      mo.observe(document.body, { childList: true, subtree: true, characterData: true });
    };
    if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);
  });`;

async function paintTimes(browser: Browser, url: string, repeat: number): Promise<{ cold: number; warm: number[] }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.addInitScript(PAINT_PROBE);
  // A new tab per visit: the same URL again in one tab would only change its hash (MLflow's
  // routes live there) and load nothing; the context keeps the HTTP cache between tabs.
  const once = async () => {
    const page = await context.newPage();
    try {
      return await visit(page);
    } finally {
      await page.close();
    }
  };
  const visit = async (page: Page) => {
    await page.goto(url, { waitUntil: 'commit' });
    const painted = page.evaluate('window.__firstRunPaint', undefined) as Promise<number>;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<number>((_, fail) => (timer = setTimeout(() => fail(new Error(`no run name painted within ${PAINT_TIMEOUT_MS / 1000} s at ${url}`)), PAINT_TIMEOUT_MS)));
    try {
      return await Promise.race([painted, timeout]);
    } catch (err) {
      await page.screenshot({ path: join(WORK, 'paint-timeout.png') });
      throw err;
    } finally {
      clearTimeout(timer);
    }
  };
  // The first visit loads the UI's files into the browser cache; later ones are repeat visits.
  const cold = await once();
  const warm: number[] = [];
  for (let i = 0; i < repeat; i++) warm.push(await once());
  await context.close();
  return { cold, warm };
}

/** Paging deep: from the End key in the runs table to the oldest run (row 100,000) painted. */
async function jumpToEnd(browser: Browser, url: string, lastName: string): Promise<number[]> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const out: number[] = [];
  for (let i = 0; i <= REPEAT; i++) {
    const page = await context.newPage();
    await page.goto(url);
    const grid = page.getByRole('grid', { name: 'Runs' });
    await grid.getByRole('row').nth(1).getByText(/^run-\d{6}$/).waitFor();
    await grid.focus();
    const t0 = (await page.evaluate('performance.now()')) as number;
    await page.keyboard.press('End');
    await grid.getByText(lastName, { exact: true }).waitFor({ timeout: 60_000 });
    const t1 = (await page.evaluate('new Promise((r) => requestAnimationFrame(() => r(performance.now())))')) as number;
    if (i > 0) out.push(t1 - t0);
    await page.close();
  }
  await context.close();
  return out;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  if (BUILD) {
    log('npm run build');
    await run('npm', ['run', 'build', '--silent']);
  }
  const bundle = bundleSizes();
  log(`initial JS ${fmt(bundle.initialGz / 1024, 1)} KiB gzipped (${bundle.initialFiles.join(', ')}); all JS ${fmt(bundle.totalGz / 1024, 1)} KiB`);

  log('MLflow venv: bash scripts/python-test-env.sh');
  const venv = (await run('bash', ['scripts/python-test-env.sh'])).split('\n').pop() as string;
  const mlflowVersion = await run(join(venv, 'bin/python'), ['-c', 'import importlib.metadata as m; print(m.version("mlflow"))']);
  const runs = seedRuns(RUNS);
  const runsTsv = join(WORK, 'runs.tsv');
  await writeRunsTsv(runsTsv, runs);

  // MLflow: its own schema, the runs bulk-inserted as its store writes them (as bench:tracking does).
  log(`MLflow ${mlflowVersion}: seeding ${fmt(RUNS)} runs into its SQLite file (bench/tracking/seed_mlflow.py)`);
  const mlflowDir = join(WORK, 'mlflow');
  mkdirSync(mlflowDir, { recursive: true });
  const seeded = JSON.parse(
    (await run(join(venv, 'bin/python'), [join(ROOT, 'bench/tracking/seed_mlflow.py'), '--db', join(mlflowDir, 'mlflow.db'), '--runs-tsv', runsTsv, '--history-steps', '1'])).split('\n').pop() as string,
  ) as { search_experiment_id: string };

  // Lapis: the experiment through the API, the runs by direct SQL into the stopped server's file.
  log(`Lapis: seeding the same ${fmt(RUNS)} runs`);
  const dataDir = join(WORK, 'lapis');
  let lapis = await startLapis({ root: ROOT, dataDir, logDir: WORK });
  const experimentId = (await new HttpClient(lapis.url).json<{ experiment_id: string }>('POST', '/api/2.0/mlflow/experiments/create', { name: 'bench-search' })).experiment_id;
  await lapis.stop();
  seedLapisSql(join(dataDir, 'lapis.db'), experimentId, runs);
  lapis = await startLapis({ root: ROOT, dataDir, logDir: WORK });

  // The chart's data goes through the REST API: 10 runs, 100,000 steps of one metric each.
  log(`Lapis: logging ${CHART.runs} runs × ${fmt(CHART.steps)} steps through log-batch`);
  const http = new HttpClient(lapis.url, 8);
  const chartExp = (await http.json<{ experiment_id: string }>('POST', '/api/2.0/mlflow/experiments/create', { name: 'bench-chart' })).experiment_id;
  const chartRuns: string[] = [];
  for (let r = 0; r < CHART.runs; r++) {
    const id = (await http.json<{ run: { info: { run_id: string } } }>('POST', '/api/2.0/mlflow/runs/create', { experiment_id: chartExp, run_name: `chart-${r}`, start_time: 1_700_000_000_000 })).run.info.run_id;
    chartRuns.push(id);
    const batches: Promise<unknown>[] = [];
    for (let s0 = 0; s0 < CHART.steps; s0 += CHART.perRequest) {
      const metrics = Array.from({ length: CHART.perRequest }, (_, k) => {
        const step = s0 + k;
        return { key: 'loss', value: (1 + r) / (1 + step / 100) + 0.05 * Math.sin(step / 50), timestamp: 1_700_000_000_000 + step * 100, step };
      });
      batches.push(http.json('POST', '/api/2.0/mlflow/runs/log-batch', { run_id: id, metrics }));
      if (batches.length >= 8) await Promise.all(batches.splice(0));
    }
    await Promise.all(batches);
  }
  http.close();

  const browser = await launchChromium();
  const results: { lapis?: { cold: number; warm: number[] }; mlflow?: { cold: number; warm: number[] }; end?: number[]; chart?: { first: number; total: number[]; render: number[] } } = {};
  try {
    log(`Lapis studio: runs page, ${REPEAT + 1} visits`);
    LOAD.push(loadavg()[0] as number);
    results.lapis = await paintTimes(browser, `${lapis.url}/w/default/experiments/${experimentId}`, REPEAT);
    log(`  first paint of runs: cold ${fmt(results.lapis.cold)} ms, warm median ${fmt(median(results.lapis.warm))} ms`);

    log('Lapis studio: End key in the runs table → the last run painted');
    results.end = await jumpToEnd(browser, `${lapis.url}/w/default/experiments/${experimentId}`, runs[0]?.name as string);
    log(`  ${fmt(median(results.end))} ms (median of ${REPEAT})`);

    log(`Lapis studio: compare ${CHART.runs} runs × ${fmt(CHART.steps)} steps, ${REPEAT + 1} visits`);
    LOAD.push(loadavg()[0] as number);
    const chart = { first: NaN, total: [] as number[], render: [] as number[] };
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    for (let i = 0; i <= REPEAT; i++) {
      await page.goto(`${lapis.url}/w/default/compare?runs=${chartRuns.join(',')}&metric=loss`);
      // A function, not a string: the studio's Content-Security-Policy forbids eval.
      await page.waitForFunction(() => performance.getEntriesByName('lapis:chart-drawn').length > 0, undefined, { timeout: 60_000 });
      const m = (await page.evaluate("(() => { const e = performance.getEntriesByName('lapis:chart-drawn')[0]; return { at: e.startTime, render: e.detail.renderMs }; })()")) as { at: number; render: number };
      // The first view makes the server read every history; later ones find them in its cache.
      if (i === 0) chart.first = m.at;
      else {
        chart.total.push(m.at);
        chart.render.push(m.render);
      }
    }
    await context.close();
    results.chart = chart;
    log(`  chart drawn ${fmt(chart.first)} ms after navigation the first time, ${fmt(median(chart.total))} ms later (render ${fmt(median(chart.render), 1)} ms after the data arrived)`);
    await lapis.stop();

    const mlflow = await startMlflow({ venv, dbPath: join(mlflowDir, 'mlflow.db'), artifactsDir: join(mlflowDir, 'artifacts'), logDir: mlflowDir });
    log(`MLflow UI: runs page, ${REPEAT + 1} visits`);
    LOAD.push(loadavg()[0] as number);
    // MLflow 3 opens an experiment on its GenAI overview; its runs table is the "model training" view.
    results.mlflow = await paintTimes(browser, `${mlflow.url}/#/experiments/${seeded.search_experiment_id}/runs?workflowType=machine_learning`, REPEAT);
    log(`  first paint of runs: cold ${fmt(results.mlflow.cold)} ms, warm median ${fmt(median(results.mlflow.warm))} ms`);
    await mlflow.stop();
  } finally {
    await browser.close();
  }
  report(bundle, mlflowVersion, results as Required<typeof results>);
}

function report(bundle: ReturnType<typeof bundleSizes>, mlflowVersion: string, r: { lapis: { cold: number; warm: number[] }; mlflow: { cold: number; warm: number[] }; end: number[]; chart: { first: number; total: number[]; render: number[] } }): void {
  const lw = median(r.lapis.warm);
  const mw = median(r.mlflow.warm);
  const chartMs = median(r.chart.total);
  const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const rows = [
    { what: `runs page, first paint of runs (${fmt(RUNS)} runs), repeat visit`, lapis: `${fmt(lw)} ms`, mlflow: `${fmt(mw)} ms`, ratio: `${fmt(mw / lw, 1)}×`, target: `≤ ${TARGETS.paintMs} ms: ${pass(lw <= TARGETS.paintMs)}` },
    { what: 'runs page, first paint of runs, first visit (cold cache)', lapis: `${fmt(r.lapis.cold)} ms`, mlflow: `${fmt(r.mlflow.cold)} ms`, ratio: `${fmt(r.mlflow.cold / r.lapis.cold, 1)}×`, target: pass(r.lapis.cold <= TARGETS.paintMs) },
    { what: `runs page: End key → run ${fmt(RUNS)} painted (offset ${fmt(RUNS - 100)})`, lapis: `${fmt(median(r.end))} ms`, mlflow: '—', ratio: '', target: '' },
    { what: `chart, ${CHART.runs} runs × ${fmt(CHART.steps)} steps: render (data arrived → drawn)`, lapis: `${fmt(median(r.chart.render), 1)} ms`, mlflow: '—', ratio: '', target: `≤ ${TARGETS.chartMs} ms: ${pass(median(r.chart.render) <= TARGETS.chartMs)}` },
    { what: 'chart page: navigation → drawn, repeat view (page, runs, cached histories)', lapis: `${fmt(chartMs)} ms`, mlflow: '—', ratio: '', target: '' },
    { what: 'chart page: navigation → drawn, first view (the server reads 1,000,000 points)', lapis: `${fmt(r.chart.first)} ms`, mlflow: '—', ratio: '', target: '' },
    { what: 'initial JavaScript, gzipped', lapis: `${fmt(bundle.initialGz / 1024, 1)} KiB`, mlflow: '—', ratio: '', target: `≤ ${TARGETS.initialJsKiB} KB: ${pass(bundle.initialGz / 1024 <= TARGETS.initialJsKiB)}` },
    { what: 'all JavaScript of the studio, gzipped', lapis: `${fmt(bundle.totalGz / 1024, 1)} KiB`, mlflow: '—', ratio: '', target: '' },
  ];
  const head = { what: 'measure', lapis: 'Lapis studio', mlflow: `MLflow ${mlflowVersion} UI`, ratio: 'MLflow / Lapis', target: 'target' };
  console.log(`\n${textTable(head, rows)}\n`);
  if (!WRITE) return;
  const date = new Date().toISOString().slice(0, 10);
  const section = `## Studio (${date})

\`npm run bench:ui\` on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), headless Debian Chromium, servers on loopback, one at a time; the machine's load average was ${LOAD.map((l) => fmt(l, 1)).join(' / ')} (Lapis runs page / chart / MLflow UI) — other work shared the cores, so the figures are noisier than on an idle machine.

${markdownTable(head, rows)}

- **Data**: ${fmt(RUNS)} runs (10 params, 10 metrics, 5 tags each, from the fixed seed of \`bench:tracking\`) in one experiment on both servers, bulk-written into each one's SQLite file as its own store writes them (\`bench/tracking/seed_mlflow.py\`, \`seed_lapis.ts\`). The chart's ${CHART.runs} runs × ${fmt(CHART.steps)} steps go through Lapis's log-batch API.
- **First paint of runs**: navigation start → the first frame painted after a seeded run name is in the DOM (a MutationObserver installed before the page's scripts, then a frame), on \`/w/default/experiments/<id>\` (Lapis) and \`/#/experiments/<id>/runs?workflowType=machine_learning\` (MLflow 3's runs table; its default experiment page is the GenAI overview). One first visit, then the median of ${REPEAT} repeat visits (browser cache warm, as for a user who comes back).
- **Paging deep**: on the runs page, the End key in the table, then the frame that shows the oldest run (the 100,000th row, loaded with \`offset\` from the server); MLflow's UI pages with "load more" 100 runs at a time, so it has no counterpart. Median of ${REPEAT} after one warm-up.
- **Chart**: the compare page of the ${CHART.runs} runs, navigation start → uPlot's first draw of the overlaid \`loss\` curves: the first view, then the median of ${REPEAT} more (the server caches down-sampled histories until they are written again). The server down-samples each history to at most 2,500 points (min and max per step bucket, so spikes stay), the browser joins and draws them.
- **Initial JavaScript**: what \`dist/ui/index.html\` loads up front (${bundle.initialFiles.filter((f) => f.endsWith('.js')).length} file); run, compare and job pages and uPlot load on demand.
`;
  writeDocsSection(DOCS, 'Studio', section);
  log(`wrote the Studio section of ${DOCS}`);
}

const bail = () => {
  killAllNow();
  process.exit(130);
};
process.once('SIGINT', bail);
process.once('SIGTERM', bail);
main()
  .catch(async (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
