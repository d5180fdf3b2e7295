import { useEffect } from 'react';
import { AsyncView, Empty } from '../components/States.js';
import { fmtTime } from '../lib/format.js';
import { Link, paths } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { useAsync } from '../lib/use-async.js';
import { StatusBadge } from './Jobs.js';

/** Compute targets, their slots, and the jobs running or queued on each (refreshed every 2 s). */
export default function ComputesPage() {
  const { client, workspace } = useSession();
  const state = useAsync(async () => Promise.all((await client.computes.list()).map((c) => client.computes.get(c.name))), [client]);
  useEffect(() => {
    const t = setInterval(state.reload, 2000);
    return () => clearInterval(t);
  }, [state.reload]);
  return (
    <section className="page">
      <div className="page-head">
        <h1>Compute</h1>
      </div>
      <AsyncView state={state} what="Loading compute targets">
        {(computes) =>
          computes.length === 0 ? (
            <Empty title="No compute targets">lapis compute create -f compute.yml adds one.</Empty>
          ) : (
            <div className="grid2">
              {computes.map((c) => (
                <section key={c.name} className="card" aria-label={`Compute ${c.name}`}>
                  <h2>
                    {c.name} <span className="hint">{c.type}{c.built_in ? ', built in' : ''}</span>
                  </h2>
                  <p>
                    {c.running ?? 0} running, {c.queued ?? 0} queued on {c.max_instances} slot{c.max_instances === 1 ? '' : 's'}
                    {c.description ? ` — ${c.description}` : ''}
                  </p>
                  {(c.jobs ?? []).length === 0 ? (
                    <p className="hint">Idle.</p>
                  ) : (
                    <table className="data">
                      <thead>
                        <tr>
                          <th>Job</th>
                          <th>Status</th>
                          <th className="num">Slots</th>
                        </tr>
                      </thead>
                      <tbody>
                        {(c.jobs ?? []).map((j) => (
                          <tr key={j.name}>
                            <td>
                              <Link to={paths.job(workspace, j.name)}>{j.name}</Link>
                            </td>
                            <td>
                              <StatusBadge status={j.status} />
                            </td>
                            <td className="num">{j.slots}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  )}
                  <p className="hint">Created {fmtTime(c.created_at)}</p>
                </section>
              ))}
            </div>
          )
        }
      </AsyncView>
    </section>
  );
}
