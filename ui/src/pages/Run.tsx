import type { ArtifactEntry, Run } from '../../../src/client/index.js';
import { ArtifactPreview } from '../components/ArtifactPreview.js';
import { ChartControls, useChartSettings, type ChartSettings } from '../components/ChartControls.js';
import { LogView } from '../components/LogView.js';
import { MetricChart } from '../components/MetricChart.js';
import { AsyncView, Empty } from '../components/States.js';
import { KeyValueTable } from '../components/KeyValueTable.js';
import { fmtBytes, fmtDuration, fmtNumber, fmtTime } from '../lib/format.js';
import { loadSeries } from '../lib/histories.js';
import { Link, navigate, paths, useLocation, withQuery } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { onTabListKeyDown } from '../lib/keys.js';
import { useAsync } from '../lib/use-async.js';

const TABS = ['overview', 'charts', 'artifacts', 'logs'] as const;
type Tab = (typeof TABS)[number];

function KeyValueCard({ title, rows }: { title: string; rows: { key: string; value: string }[] }) {
  return (
    <section className="card">
      <h2>
        {title} <span className="hint">{rows.length}</span>
      </h2>
      {rows.length === 0 ? (
        <p className="hint">None.</p>
      ) : (
        <KeyValueTable rows={rows.map((r) => [r.key, r.value] as const)} />
      )}
    </section>
  );
}

function Overview({ run }: { run: Run }) {
  const { workspace } = useSession();
  const tags = run.data.tags.filter((t) => !t.key.startsWith('mlflow.') || t.key === 'mlflow.note.content');
  return (
    <div className="grid2">
      <section className="card">
        <h2>Run</h2>
        <KeyValueTable
          rows={[
            ['Id', <code>{run.info.run_id}</code>],
            ['Experiment', <Link to={paths.experiment(workspace, run.info.experiment_id)}>{run.info.experiment_id}</Link>],
            ['Status', run.info.status],
            ['Started', fmtTime(run.info.start_time)],
            ['Duration', run.info.end_time ? fmtDuration(run.info.end_time - run.info.start_time) : 'running'],
            ['User', run.info.user_id],
            ...run.inputs.dataset_inputs.map(
              (d) =>
                [
                  'Dataset',
                  <>
                    {d.dataset.name} <span className="hint">({d.tags.find((t) => t.key === 'mlflow.data.context')?.value ?? 'input'}, {d.dataset.digest})</span>
                  </>,
                ] as const,
            ),
          ]}
        />
      </section>
      <KeyValueCard title="Metrics" rows={run.data.metrics.map((m) => ({ key: m.key, value: fmtNumber(m.value) }))} />
      <KeyValueCard title="Parameters" rows={run.data.params} />
      <KeyValueCard title="Tags" rows={tags} />
    </div>
  );
}

function Charts({ run, settings }: { run: Run; settings: ChartSettings }) {
  const { client } = useSession();
  const keys = run.data.metrics.map((m) => m.key).sort();
  const state = useAsync(async (signal) => Promise.all(keys.map(async (k) => ({ key: k, series: await loadSeries(client, [run], k, signal) }))), [client, run.info.run_id, keys.join('\n')]);
  if (keys.length === 0) return <Empty title="This run has no metrics">mlflow.log_metric("loss", 0.5, step=1) logs one.</Empty>;
  return (
    <>
      <ChartControls settings={settings} />
      <AsyncView state={state} what="Loading metric histories">
        {(charts) => (
          <div className="charts">
            {charts.map((c) => (
              <MetricChart key={c.key} title={c.key} series={c.series} {...settings} />
            ))}
          </div>
        )}
      </AsyncView>
    </>
  );
}

function Artifacts({ run }: { run: Run }) {
  const { client } = useSession();
  const loc = useLocation();
  const state = useAsync(() => client.runs.listArtifacts(run.info.run_id, { recursive: true }), [client, run.info.run_id]);
  const open = loc.query.get('file');
  return (
    <AsyncView state={state} what="Listing artifacts">
      {(listing) =>
        listing.files.length === 0 ? (
          <Empty title="No artifacts">mlflow.log_artifact, log_dict, log_figure and log_model put files here.</Empty>
        ) : (
          <div className="split">
            <ul className="files" aria-label="Artifact files">
              {listing.files.map((f: ArtifactEntry) => (
                <li key={f.path}>
                  <Link to={withQuery(loc, { file: f.path })} aria-current={f.path === open ? 'true' : undefined}>
                    {f.path}
                  </Link>{' '}
                  <span className="hint">{fmtBytes(f.file_size)}</span>
                </li>
              ))}
            </ul>
            {open ? (
              <ArtifactPreview client={client} runId={run.info.run_id} path={open} size={listing.files.find((f) => f.path === open)?.file_size} />
            ) : (
              <Empty title="Pick a file to preview it" />
            )}
          </div>
        )
      }
    </AsyncView>
  );
}

function Logs({ run }: { run: Run }) {
  const { workspace } = useSession();
  const loc = useLocation();
  const job = run.data.tags.find((t) => t.key === 'lapis.job')?.value;
  if (!job)
    return (
      <Empty title="This run was not made by a job">
        A job's run shows its live log here. Log files a script saved are under <Link to={withQuery(loc, { tab: 'artifacts' })}>Artifacts</Link>.
      </Empty>
    );
  return (
    <>
      <p>
        The log of job <Link to={paths.job(workspace, job)}>{job}</Link>:
      </p>
      <LogView job={job} />
    </>
  );
}

export default function RunPage({ runId }: { runId: string }) {
  const { client, workspace } = useSession();
  const loc = useLocation();
  const settings = useChartSettings();
  const state = useAsync(() => client.runs.get(runId), [client, runId]);
  const raw = loc.query.get('tab');
  const tab: Tab = (TABS as readonly string[]).includes(raw ?? '') ? (raw as Tab) : 'overview';
  return (
    <section className="page">
      <AsyncView state={state} what="Loading the run">
        {(run) => (
          <>
            <nav className="crumbs" aria-label="Breadcrumb">
              <Link to={paths.experiment(workspace, run.info.experiment_id)}>Experiment {run.info.experiment_id}</Link> / <span>{run.info.run_name}</span>
            </nav>
            <div className="page-head">
              <h1>{run.info.run_name || run.info.run_id}</h1>
              <span className={`badge status-${run.info.status.toLowerCase()}`}>{run.info.status}</span>
              <span className="spacer" />
              <button type="button" onClick={state.reload}>
                Refresh
              </button>
            </div>
            <div className="tabs" role="tablist" onKeyDown={onTabListKeyDown} aria-label="Run">
              {TABS.map((t) => (
                <button
                  key={t}
                  type="button"
                  role="tab"
                  aria-selected={t === tab}
                  tabIndex={t === tab ? 0 : -1}
                  onClick={() => navigate(withQuery(loc, { tab: t === 'overview' ? undefined : t, file: undefined }), { replace: true })}
                >
                  {t[0]?.toUpperCase() + t.slice(1)}
                </button>
              ))}
            </div>
            <div role="tabpanel">
              {tab === 'overview' ? <Overview run={run} /> : null}
              {tab === 'charts' ? <Charts run={run} settings={settings} /> : null}
              {tab === 'artifacts' ? <Artifacts run={run} /> : null}
              {tab === 'logs' ? <Logs run={run} /> : null}
            </div>
          </>
        )}
      </AsyncView>
    </section>
  );
}
