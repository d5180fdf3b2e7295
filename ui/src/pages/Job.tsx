import { useEffect, useState } from 'react';
import { predictionsText, progressText, TERMINAL_JOB_STATUSES, type Job } from '../../../src/client/index.js';
import { LogView } from '../components/LogView.js';
import { AsyncView, ErrorView } from '../components/States.js';
import { KeyValueTable } from '../components/KeyValueTable.js';
import { fmtBytes, fmtTime } from '../lib/format.js';
import { Link, paths } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { useAsync } from '../lib/use-async.js';
import { jobDuration, StatusBadge } from './Jobs.js';

/** `azureml:name:version` (or `name@latest`) of a data asset or model: its page in the studio. */
function assetLink(ws: string, ref: string, type: unknown): string | undefined {
  const m = /^(?:azureml:)?([A-Za-z0-9][\w.-]*)(?::([\w.-]+)|@latest)$/.exec(ref);
  if (!m || ref.startsWith('azureml://')) return undefined;
  const isModel = typeof type === 'string' && /model$/.test(type);
  return isModel ? paths.model(ws, m[1] as string, m[2]) : paths.asset(ws, 'data', m[1] as string, m[2]);
}

/** An input as the spec gave it: a type, a path (linked when it names an asset) or a value, a mode. */
function Input({ value, ws }: { value: unknown; ws: string }) {
  if (value === null || typeof value !== 'object') return <>{String(value)}</>;
  const o = value as Record<string, unknown>;
  const path = typeof o.path === 'string' ? o.path : undefined;
  const link = path ? assetLink(ws, path, o.type) : undefined;
  return (
    <>
      {[o.type, link ? undefined : (o.path ?? o.value)].filter((x) => x !== undefined && x !== null).join(' · ')}
      {link ? (
        <>
          {' · '}
          <Link to={link}>{path}</Link>
        </>
      ) : null}
      {o.mode ? ` · ${String(o.mode)}` : ''}
    </>
  );
}

function OutputFiles({ job, output }: { job: string; output: string }) {
  const { client } = useSession();
  const [open, setOpen] = useState(false);
  const files = useAsync((signal) => (open ? client.jobs.outputFiles(job, output) : Promise.resolve(undefined)).then((r) => (signal.aborted ? undefined : r)), [client, job, output, open]);
  return (
    <details onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>files</summary>
      {files.status === 'error' ? <ErrorView error={files.error} /> : null}
      <ul className="files">
        {(files.data?.files ?? []).map((f) => (
          <li key={f.path}>
            {f.path} <span className="hint">{fmtBytes(f.size)}</span>
          </li>
        ))}
      </ul>
    </details>
  );
}

export default function JobPage({ name }: { name: string }) {
  const { client, workspace } = useSession();
  const state = useAsync(() => client.jobs.get(name), [client, name]);
  const running = state.data !== undefined && !TERMINAL_JOB_STATUSES.includes(state.data.status);
  // Status and duration move while the job runs; the log streams on its own.
  useEffect(() => {
    if (!running) return;
    const t = setInterval(state.reload, 2000);
    return () => clearInterval(t);
  }, [running, state.reload]);
  return (
    <section className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to={paths.jobs(workspace)}>Jobs</Link> / <span>{name}</span>
      </nav>
      <AsyncView state={state} what="Loading the job">
        {(job: Job) => (
          <>
            <div className="page-head">
              <h1>{job.display_name || job.name}</h1>
              <StatusBadge status={job.status} />
              <span className="hint">{jobDuration(job, Date.now())}</span>
              <span className="spacer" />
              {running ? (
                <button type="button" onClick={() => void client.jobs.cancel(job.name).then(state.reload)}>
                  Cancel
                </button>
              ) : null}
            </div>
            {job.error ? <pre className="state error message">{job.error}</pre> : null}
            <div className="grid2">
              <section className="card">
                <h2>Job</h2>
                <KeyValueTable
                  rows={[
                    ['Name', <code>{job.name}</code>],
                    [
                      'Run',
                      <>
                        <Link to={paths.run(workspace, job.run_id)}>{job.run_id}</Link> (<Link to={paths.experiment(workspace, job.experiment_id)}>experiment</Link>)
                      </>,
                    ],
                    ['Compute', job.compute],
                    ['Environment', job.environment],
                    ['Command', <code>{job.command}</code>],
                    ['Submitted', `${fmtTime(job.created_at)} by ${job.created_by}`],
                    ...Object.entries(job.status_times).map(([s, t]) => [s, fmtTime(t)] as const),
                    job.progress ? ['Progress', progressText(job.progress)] : null,
                    predictionsText(job) ? ['Predictions', predictionsText(job)] : null,
                    job.exit_code !== null ? ['Exit code', job.exit_code] : null,
                  ]}
                />
              </section>
              <section className="card">
                <h2>Inputs</h2>
                {Object.keys(job.inputs).length === 0 ? <p className="hint">None.</p> : null}
                <KeyValueTable testId="job-inputs" rows={Object.entries(job.inputs).map(([k, v]) => [k, <Input value={v} ws={workspace} />])} />
                <h2>Outputs</h2>
                {Object.keys(job.outputs).length === 0 ? <p className="hint">None.</p> : null}
                <KeyValueTable
                  testId="job-outputs"
                  rows={Object.entries(job.outputs).map(([k, o]) => [
                    k,
                    <>
                      {o.type}
                      {o.files !== undefined ? ` · ${o.files} files, ${fmtBytes(o.size)}` : ''}
                      {o.registered ? (
                        <>
                          {' '}
                          · registered as{' '}
                          {assetLink(workspace, o.registered, o.type) ? <Link to={assetLink(workspace, o.registered, o.type) as string}>{o.registered}</Link> : <code>{o.registered}</code>}
                        </>
                      ) : null}
                      {o.path ? (
                        <>
                          {' '}
                          · <code>{o.path}</code>
                        </>
                      ) : null}
                      {o.hash ? <OutputFiles job={job.name} output={k} /> : null}
                    </>,
                  ])}
                />
              </section>
            </div>
            <section className="card">
              <h2>Log</h2>
              <LogView job={job.name} onEnd={state.reload} />
            </section>
          </>
        )}
      </AsyncView>
    </section>
  );
}
