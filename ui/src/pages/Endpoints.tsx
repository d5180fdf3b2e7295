import { useEffect, useRef, useState } from 'react';
import type { OnlineEndpoint } from '../../../src/client/index.js';
import { DeploymentLog } from '../components/DeploymentLog.js';
import { MetricChart } from '../components/MetricChart.js';
import { AsyncView, Empty, ErrorView } from '../components/States.js';
import { VirtualTable } from '../components/VirtualTable.js';
import { PALETTE, type ChartSeries } from '../lib/chart-data.js';
import { fmtNumber, fmtTime } from '../lib/format.js';
import { Link, navigate, paths } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { useAsync } from '../lib/use-async.js';

const trafficText = (t: Record<string, number>): string =>
  Object.entries(t)
    .map(([d, p]) => `${d} ${p}%`)
    .join(', ') || 'no traffic';

export function EndpointsPage() {
  const { client, workspace } = useSession();
  const state = useAsync(() => client.onlineEndpoints.list(), [client]);
  return (
    <section className="page">
      <div className="page-head">
        <h1>Endpoints</h1>
      </div>
      <AsyncView state={state} what="Loading endpoints">
        {(endpoints) =>
          endpoints.length === 0 ? (
            <Empty title="No online endpoints yet">lapis online-endpoint create -f endpoint.yml creates one.</Empty>
          ) : (
            <VirtualTable
              label="Endpoints"
              rowCount={endpoints.length}
              row={(i) => endpoints[i]}
              rowKey={(e, i) => e?.name ?? String(i)}
              onOpen={(e) => navigate(paths.endpoint(workspace, e.name))}
              height={Math.min(600, 40 + endpoints.length * 32)}
              columns={[
                {
                  id: 'name',
                  header: 'Name',
                  width: 220,
                  cell: (e) => (
                    <Link to={paths.endpoint(workspace, e.name)} tabIndex={-1}>
                      {e.name}
                    </Link>
                  ),
                },
                { id: 'deployments', header: 'Deployments', width: 260, cell: (e) => e.deployments.map((d) => `${d.name} (${d.state})`).join(', ') },
                { id: 'traffic', header: 'Traffic', width: 220, cell: (e) => trafficText(e.traffic) },
                { id: 'auth', header: 'Auth', width: 90, cell: (e) => e.auth_mode },
                { id: 'created', header: 'Created', width: 180, cell: (e) => fmtTime(e.created_at) },
              ]}
            />
          )
        }
      </AsyncView>
    </section>
  );
}

/** The split as numbers per deployment; Apply sends it, and the server's answer (or refusal) shows. */
function TrafficEditor({ endpoint, onApplied }: { endpoint: OnlineEndpoint; onApplied: (e: OnlineEndpoint) => void }) {
  const { client } = useSession();
  const initial = () => Object.fromEntries(endpoint.deployments.map((d) => [d.name, String(endpoint.traffic[d.name] ?? 0)]));
  const [split, setSplit] = useState<Record<string, string>>(initial);
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const sum = Object.values(split).reduce((s, v) => s + (Number(v) || 0), 0);
  const apply = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onApplied(await client.onlineEndpoints.update(endpoint.name, { traffic: Object.fromEntries(Object.entries(split).map(([k, v]) => [k, Number(v)])) }));
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card">
      <h2>Traffic split</h2>
      <form
        className="traffic"
        aria-label="Traffic split"
        onSubmit={(e) => {
          e.preventDefault();
          void apply();
        }}
      >
        {endpoint.deployments.map((d, i) => (
          <label key={d.name}>
            <span className="swatch" style={{ background: PALETTE[i % PALETTE.length] }} /> {d.name}{' '}
            <input type="number" min={0} max={100} step={1} value={split[d.name] ?? '0'} onChange={(e) => setSplit((s) => ({ ...s, [d.name]: e.target.value }))} aria-label={`Traffic to ${d.name} (%)`} />%
          </label>
        ))}
        <div className="bar" aria-hidden="true">
          {endpoint.deployments.map((d, i) => (
            <span key={d.name} style={{ width: `${Math.max(0, Number(split[d.name]) || 0)}%`, background: PALETTE[i % PALETTE.length] }} />
          ))}
        </div>
        <span className={sum === 100 ? 'hint' : 'form-error'}>total {sum}%{sum === 100 ? '' : ' (the split must add up to 100%)'}</span>
        <button type="submit" className="primary" disabled={busy}>
          Apply
        </button>
        <button type="button" onClick={() => setSplit(initial())}>
          Reset
        </button>
      </form>
      <p className="hint" data-testid="traffic-now">
        Now: {trafficText(endpoint.traffic)}
      </p>
      {error ? <ErrorView error={error} /> : null}
    </section>
  );
}

interface Sample {
  at: number;
  perDeployment: Record<string, { requests: number; errors: number; p95: number | null }>;
}

/** Request rate, error rate and p95 latency per deployment, from the endpoint's counters polled every 2 s. */
function LiveCharts({ samples, names }: { samples: Sample[]; names: string[] }) {
  if (samples.length < 3) return <p className="hint">Collecting… (a point every 2 s)</p>;
  const series = (pick: (prev: Sample, cur: Sample, d: string) => number | null): ChartSeries[] =>
    names.map((d, i) => {
      const rest = samples.slice(1);
      return {
        label: d,
        color: PALETTE[i % PALETTE.length] as string,
        steps: rest.map((_, j) => j),
        times: rest.map((s) => s.at),
        values: rest.map((s, j) => pick(samples[j] as Sample, s, d)),
      };
    });
  const rate = (field: 'requests' | 'errors') => (prev: Sample, cur: Sample, d: string) => {
    const a = prev.perDeployment[d];
    const b = cur.perDeployment[d];
    return a && b ? Math.max(0, (b[field] - a[field]) / ((cur.at - prev.at) / 1000)) : null;
  };
  return (
    <div className="charts">
      <MetricChart title="requests/s" series={series(rate('requests'))} xAxis="time" height={200} />
      <MetricChart title="errors/s" series={series(rate('errors'))} xAxis="time" height={200} />
      <MetricChart title="p95 latency (ms)" series={series((_p, cur, d) => cur.perDeployment[d]?.p95 ?? null)} xAxis="time" height={200} />
    </div>
  );
}

function TestPanel({ endpoint }: { endpoint: OnlineEndpoint }) {
  const { client } = useSession();
  const [body, setBody] = useState('{"input_data": {"columns": ["x"], "data": [[1.0]]}}');
  const [pin, setPin] = useState('');
  const [answer, setAnswer] = useState<{ status: number; ms: number; deployment: string | null; text: string } | { error: Error }>();
  const send = async () => {
    setAnswer(undefined);
    const started = performance.now();
    try {
      const keys = await client.onlineEndpoints.keys(endpoint.name);
      const res = await client.onlineEndpoints.invoke(endpoint.name, body, { credential: keys.primaryKey, ...(pin ? { deployment: pin } : {}) });
      const text = await res.text();
      let pretty = text;
      try {
        pretty = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON: show it as it came
      }
      setAnswer({ status: res.status, ms: performance.now() - started, deployment: res.headers.get('azureml-model-deployment'), text: pretty });
    } catch (err) {
      setAnswer({ error: err instanceof Error ? err : new Error(String(err)) });
    }
  };
  return (
    <section className="card">
      <h2>Test</h2>
      <label className="block">
        Request body (JSON)
        <textarea rows={5} value={body} onChange={(e) => setBody(e.target.value)} spellCheck={false} aria-label="Request body" />
      </label>
      <div className="inline-form">
        <label>
          Deployment{' '}
          <select value={pin} onChange={(e) => setPin(e.target.value)} aria-label="Pin a deployment">
            <option value="">by the traffic split</option>
            {endpoint.deployments.map((d) => (
              <option key={d.name}>{d.name}</option>
            ))}
          </select>
        </label>
        <button type="button" className="primary" onClick={() => void send()}>
          Send
        </button>
      </div>
      {answer && 'error' in answer ? <ErrorView error={answer.error} /> : null}
      {answer && !('error' in answer) ? (
        <div data-testid="test-answer">
          <p className="hint">
            HTTP {answer.status} in {fmtNumber(Math.round(answer.ms))} ms{answer.deployment ? ` from ${answer.deployment}` : ''}
          </p>
          <pre className="file">{answer.text}</pre>
        </div>
      ) : null}
    </section>
  );
}

function LogsCard({ endpoint }: { endpoint: OnlineEndpoint }) {
  const names = endpoint.deployments.map((d) => d.name);
  const [picked, setPicked] = useState<string>();
  const shown = picked && names.includes(picked) ? picked : (names[0] as string);
  return (
    <section className="card">
      <div className="log-head">
        <h2>Logs</h2>
        <span className="spacer" />
        <label>
          Deployment{' '}
          <select aria-label="Log of deployment" value={shown} onChange={(e) => setPicked(e.target.value)}>
            {names.map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
      </div>
      <DeploymentLog endpoint={endpoint.name} deployment={shown} />
    </section>
  );
}

export function EndpointPage({ name }: { name: string }) {
  const { client, workspace } = useSession();
  const state = useAsync(() => client.onlineEndpoints.get(name), [client, name]);
  const [current, setCurrent] = useState<OnlineEndpoint>();
  const samples = useRef<Sample[]>([]);
  const [, setTick] = useState(0);
  const endpoint = current ?? state.data;
  useEffect(() => setCurrent(undefined), [state.data]);

  // Health and counters move on their own: poll, and keep the last 5 minutes for the charts.
  useEffect(() => {
    let stop = false;
    const poll = async () => {
      try {
        const e = await client.onlineEndpoints.get(name);
        if (stop) return;
        setCurrent(e);
        samples.current = [...samples.current, { at: Date.now(), perDeployment: Object.fromEntries(e.deployments.map((d) => [d.name, { requests: d.metrics.requests, errors: d.metrics.errors, p95: d.metrics.p95_ms }])) }].slice(-150);
        setTick((t) => t + 1);
      } catch {
        // the page's own state shows errors; a missed poll is retried
      }
    };
    void poll();
    const t = setInterval(() => void poll(), 2000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [client, name]);

  return (
    <section className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to={paths.endpoints(workspace)}>Endpoints</Link> / <span>{name}</span>
      </nav>
      {state.status === 'error' && !endpoint ? <ErrorView error={state.error} retry={state.reload} /> : null}
      {endpoint ? (
        <>
          <div className="page-head">
            <h1>{endpoint.name}</h1>
            <span className="hint">
              {endpoint.auth_mode} auth · <code>{endpoint.scoring_uri}</code>
            </span>
          </div>
          <section className="card">
            <h2>Deployments</h2>
            {endpoint.deployments.length === 0 ? <p className="hint">None yet: lapis online-deployment create -f deployment.yml.</p> : null}
            <div className="scroll-x">
              <table className="data" data-testid="deployments">
                <thead>
                  <tr>
                    <th>Deployment</th>
                    <th>State</th>
                    <th>Instances</th>
                    <th>Model</th>
                    <th className="num">Traffic</th>
                    <th className="num">Mirror</th>
                    <th className="num">Requests</th>
                    <th className="num">Errors</th>
                    <th className="num">p50 / p95 ms</th>
                  </tr>
                </thead>
                <tbody>
                  {endpoint.deployments.map((d) => (
                    <tr key={d.name}>
                      <th scope="row">{d.name}</th>
                      <td>
                        <span className={`badge status-${d.state === 'Succeeded' ? 'completed' : d.state === 'Failed' ? 'failed' : 'running'}`}>{d.state}</span>
                        {d.error ? <div className="form-error">{d.error}</div> : null}
                      </td>
                      <td>{d.instances.map((i) => `#${i.index} ${i.state}${i.workers.total > 1 ? ` ${i.workers.ready}/${i.workers.total} workers` : ''}${i.restarts ? ` (${i.restarts} restarts)` : ''}`).join(', ')}</td>
                      <td>{d.model}</td>
                      <td className="num">{endpoint.traffic[d.name] ?? 0}%</td>
                      <td className="num">{endpoint.mirror_traffic[d.name] ?? 0}%</td>
                      <td className="num">{d.metrics.requests}</td>
                      <td className="num">{d.metrics.errors}</td>
                      <td className="num">
                        {fmtNumber(d.metrics.p50_ms ?? undefined)} / {fmtNumber(d.metrics.p95_ms ?? undefined)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
          <div className="grid2">
            <TrafficEditor key={JSON.stringify(endpoint.traffic)} endpoint={endpoint} onApplied={setCurrent} />
            <TestPanel endpoint={endpoint} />
          </div>
          <section className="card">
            <h2>Live</h2>
            <LiveCharts samples={samples.current} names={endpoint.deployments.map((d) => d.name)} />
          </section>
          {endpoint.deployments.length > 0 ? <LogsCard endpoint={endpoint} /> : null}
        </>
      ) : state.status !== 'error' ? (
        <AsyncView state={state} what="Loading the endpoint">
          {() => null}
        </AsyncView>
      ) : null}
    </section>
  );
}
