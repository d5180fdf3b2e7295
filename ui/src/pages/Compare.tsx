import { useMemo, useState } from 'react';
import type { MetricHistory, Run } from '../../../src/client/index.js';
import { ChartControls, useChartSettings } from '../components/ChartControls.js';
import { MetricChart } from '../components/MetricChart.js';
import { ParallelCoordinates } from '../components/ParallelCoordinates.js';
import { AsyncView, Empty, ErrorView, Loading } from '../components/States.js';
import { PALETTE } from '../lib/chart-data.js';
import { fmtNumber } from '../lib/format.js';
import { fetchHistories, toSeries } from '../lib/histories.js';
import { Link, navigate, paths, useLocation, withQuery } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { useAsync, type Async } from '../lib/use-async.js';

/** Marks the compare chart's first draw (and its render time) for the UI benchmark. */
const onChartDraw = (renderMs: number) => {
  if (performance.getEntriesByName('lapis:chart-drawn').length === 0) performance.mark('lapis:chart-drawn', { detail: { renderMs } });
};

function Curves({ runs, metric, histories }: { runs: Run[]; metric: string | undefined; histories: Async<MetricHistory[]> & { reload: () => void } }) {
  const loc = useLocation();
  const settings = useChartSettings();
  const keys = [...new Set(runs.flatMap((r) => r.data.metrics.map((m) => m.key)))].sort();
  const series = useMemo(() => (histories.data ? toSeries(runs, histories.data) : undefined), [runs, histories.data]);
  if (!metric) return <Empty title="These runs have no metrics" />;
  return (
    <section className="card">
      <h2>Metric curves</h2>
      <div className="chart-controls">
        <label>
          Metric{' '}
          <select value={metric} onChange={(e) => navigate(withQuery(loc, { metric: e.target.value }), { replace: true })}>
            {keys.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
      </div>
      <ChartControls settings={settings} />
      {histories.status === 'error' ? <ErrorView error={histories.error} retry={histories.reload} /> : null}
      {series && histories.status === 'ok' ? <MetricChart title={metric} series={series} {...settings} height={320} onDraw={onChartDraw} /> : histories.status === 'loading' ? <Loading what="Loading histories" /> : null}
    </section>
  );
}

function ParamDiff({ runs }: { runs: Run[] }) {
  const [onlyDiff, setOnlyDiff] = useState(true);
  const keys = [...new Set(runs.flatMap((r) => r.data.params.map((p) => p.key)))].sort();
  const value = (r: Run, k: string) => r.data.params.find((p) => p.key === k)?.value;
  const differs = (k: string) => new Set(runs.map((r) => value(r, k) ?? '\u0000missing')).size > 1;
  const shown = onlyDiff ? keys.filter(differs) : keys;
  return (
    <section className="card">
      <h2>
        Parameters <span className="hint">{keys.filter(differs).length} differ</span>
      </h2>
      <label>
        <input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff(e.target.checked)} /> Only differences
      </label>
      {shown.length === 0 ? (
        <p className="hint">{keys.length === 0 ? 'No parameters.' : 'Every parameter is the same in these runs.'}</p>
      ) : (
        <div className="scroll-x">
          <table className="data diff" data-testid="param-diff">
            <thead>
              <tr>
                <th>Parameter</th>
                {runs.map((r, i) => (
                  <th key={r.info.run_id} style={{ borderBottomColor: PALETTE[i % PALETTE.length] }}>
                    {r.info.run_name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((k) => (
                <tr key={k} className={differs(k) ? 'differs' : undefined}>
                  <th scope="row">{k}</th>
                  {runs.map((r) => (
                    <td key={r.info.run_id}>{value(r, k) ?? <span className="hint">—</span>}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Metrics({ runs }: { runs: Run[] }) {
  const keys = [...new Set(runs.flatMap((r) => r.data.metrics.map((m) => m.key)))].sort();
  return (
    <section className="card">
      <h2>Metrics (latest)</h2>
      <div className="scroll-x">
        <table className="data">
          <thead>
            <tr>
              <th>Metric</th>
              {runs.map((r) => (
                <th key={r.info.run_id}>{r.info.run_name}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k}>
                <th scope="row">{k}</th>
                {runs.map((r) => (
                  <td key={r.info.run_id} className="num">
                    {fmtNumber(r.data.metrics.find((m) => m.key === k)?.value)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Parallel({ runs }: { runs: Run[] }) {
  const params = [...new Set(runs.flatMap((r) => r.data.params.map((p) => p.key)))].sort();
  const metrics = [...new Set(runs.flatMap((r) => r.data.metrics.map((m) => m.key)))].sort();
  // Parameters that vary say the most; then the metrics they led to.
  const varying = params.filter((k) => new Set(runs.map((r) => r.data.params.find((p) => p.key === k)?.value)).size > 1).slice(0, 8);
  const axes = [
    ...varying.map((k) => ({ label: k, values: runs.map((r) => r.data.params.find((p) => p.key === k)?.value) })),
    ...metrics.slice(0, 4).map((k) => ({ label: k, values: runs.map((r) => r.data.metrics.find((m) => m.key === k)?.value) })),
  ].map((a) => ({ label: a.label, values: a.values.map((v) => (v === undefined || v === 'NaN' ? undefined : v)) }));
  return (
    <section className="card">
      <h2>Parallel coordinates</h2>
      <div className="scroll-x">
        <ParallelCoordinates axes={axes} lines={runs.map((r) => r.info.run_name)} />
      </div>
    </section>
  );
}

export default function ComparePage() {
  const { client, workspace } = useSession();
  const { query } = useLocation();
  const ids = (query.get('runs') ?? '').split(',').filter(Boolean);
  const state = useAsync(() => Promise.all(ids.map((id) => client.runs.get(id))), [client, ids.join(',')]);
  // A metric named in the URL loads alongside the runs instead of after them.
  const metric = query.get('metric') ?? [...new Set((state.data ?? []).flatMap((r) => r.data.metrics.map((m) => m.key)))].sort()[0];
  const histories = useAsync((signal) => (metric ? fetchHistories(client, ids, metric, signal) : Promise.resolve([])), [client, ids.join(','), metric]);
  if (ids.length < 2)
    return (
      <Empty title="Pick at least two runs to compare">
        Select them in an experiment's <Link to={paths.experiments(workspace)}>runs table</Link> (Space or the checkboxes), then Compare.
      </Empty>
    );
  return (
    <section className="page">
      <div className="page-head">
        <h1>Compare {ids.length} runs</h1>
      </div>
      <AsyncView state={state} what="Loading the runs">
        {(runs) => (
          <>
            <p className="legend">
              {runs.map((r, i) => (
                <Link key={r.info.run_id} to={paths.run(workspace, r.info.run_id)} style={{ borderLeftColor: PALETTE[i % PALETTE.length] }}>
                  {r.info.run_name}
                </Link>
              ))}
            </p>
            <Curves runs={runs} metric={metric} histories={histories} />
            <div className="grid2">
              <ParamDiff runs={runs} />
              <Metrics runs={runs} />
            </div>
            <Parallel runs={runs} />
          </>
        )}
      </AsyncView>
    </section>
  );
}
