import { useEffect, useState } from 'react';
import { TERMINAL_JOB_STATUSES, type Job } from '../../../src/client/index.js';
import { AsyncView, Empty } from '../components/States.js';
import { VirtualTable } from '../components/VirtualTable.js';
import { fmtDuration, fmtTime } from '../lib/format.js';
import { Link, navigate, paths } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { useAsync } from '../lib/use-async.js';

/** A running job's duration so far; a finished one's as recorded. */
export const jobDuration = (j: Job, now: number): string =>
  fmtDuration(j.duration_ms ?? (j.started_at ? now - j.started_at : null));

export const StatusBadge = ({ status }: { status: string }) => <span className={`badge status-${status.toLowerCase()}`}>{status}</span>;

export default function JobsPage() {
  const { client, workspace } = useSession();
  const [all, setAll] = useState(false);
  const state = useAsync(() => client.jobs.list({ includeArchived: all, maxResults: 1000 }), [client, all]);
  const active = (state.data ?? []).some((j) => !TERMINAL_JOB_STATUSES.includes(j.status));
  // While a job is queued or running, the list refreshes itself (statuses and durations move).
  useEffect(() => {
    if (!active) return;
    const t = setInterval(state.reload, 2000);
    return () => clearInterval(t);
  }, [active, state.reload]);
  const now = Date.now();
  return (
    <section className="page">
      <div className="page-head">
        <h1>Jobs</h1>
        <span className="spacer" />
        <label>
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> Archived too
        </label>
      </div>
      <AsyncView state={state} what="Loading jobs">
        {(jobs) =>
          jobs.length === 0 ? (
            <Empty title="No jobs yet">lapis job create -f job.yml submits one.</Empty>
          ) : (
            <VirtualTable
              label="Jobs"
              rowCount={jobs.length}
              row={(i) => jobs[i]}
              rowKey={(j, i) => j?.name ?? String(i)}
              onOpen={(j) => navigate(paths.job(workspace, j.name))}
              height={Math.min(640, 40 + jobs.length * 32)}
              columns={[
                {
                  id: 'name',
                  header: 'Job',
                  width: 240,
                  cell: (j) => (
                    <Link to={paths.job(workspace, j.name)} tabIndex={-1}>
                      {j.display_name || j.name}
                    </Link>
                  ),
                },
                { id: 'status', header: 'Status', width: 110, cell: (j) => <StatusBadge status={j.status} /> },
                { id: 'duration', header: 'Duration', width: 110, align: 'right', cell: (j) => jobDuration(j, now) },
                { id: 'compute', header: 'Compute', width: 110, cell: (j) => j.compute },
                { id: 'created', header: 'Submitted', width: 180, cell: (j) => fmtTime(j.created_at) },
                { id: 'by', header: 'By', width: 110, cell: (j) => j.created_by },
              ]}
            />
          )
        }
      </AsyncView>
    </section>
  );
}
