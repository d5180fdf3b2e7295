import { useEffect, useRef, useState } from 'react';
import { TERMINAL_JOB_STATUSES, type JobLogEntry, type JobStatus } from '../../../src/client/index.js';
import { useSession } from '../lib/session.js';
import { useFollowBottom } from '../lib/use-follow-bottom.js';

/** Lines kept on screen: a runaway log must not grow the page without bound. */
const MAX_LINES = 20_000;

/**
 * A job's log, live: the server-sent-event stream from the typed client, every line as it is
 * written, until the job ends. It follows the bottom unless the reader scrolls up.
 */
export function LogView({ job, onEnd }: { job: string; onEnd?: (status: JobStatus) => void }) {
  const { client } = useSession();
  const [lines, setLines] = useState<JobLogEntry[]>([]);
  const [state, setState] = useState<{ live: boolean; status?: JobStatus; error?: string }>({ live: true });
  const [stream, setStream] = useState<'all' | 'user' | 'system' | 'build'>('all');
  const ended = useRef(onEnd);
  ended.current = onEnd;

  useEffect(() => {
    const ctl = new AbortController();
    setLines([]);
    setState({ live: true });
    let pending: JobLogEntry[] = [];
    let frame = 0;
    // Lines arrive in bursts: batch them per animation frame instead of one render per line.
    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = [];
      setLines((l) => (l.length + batch.length > MAX_LINES ? [...l, ...batch].slice(-MAX_LINES) : [...l, ...batch]));
    };
    (async () => {
      try {
        for await (const ev of client.jobs.follow(job, { signal: ctl.signal })) {
          if (ev.type === 'log') {
            pending.push(ev.entry);
            frame ||= requestAnimationFrame(flush);
          } else {
            setState({ live: false, status: ev.status, ...(ev.error ? { error: ev.error } : {}) });
            ended.current?.(ev.status);
          }
        }
      } catch (err) {
        if (!ctl.signal.aborted) setState({ live: false, error: err instanceof Error ? err.message : String(err) });
      }
    })();
    return () => {
      ctl.abort();
      cancelAnimationFrame(frame);
    };
  }, [client, job]);

  const follow = useFollowBottom<HTMLPreElement>(lines, stream);

  const shown = stream === 'all' ? lines : lines.filter((l) => l.stream === stream);
  const ended_ = state.status && TERMINAL_JOB_STATUSES.includes(state.status);
  return (
    <div className="log">
      <div className="log-head">
        <span className={`badge ${state.live ? 'live' : ''}`} role="status" aria-live="polite">
          {state.live ? '● live' : ended_ ? `ended: ${state.status}` : 'stream closed'}
        </span>
        <span className="hint">{shown.length.toLocaleString()} lines</span>
        <span className="spacer" />
        <label>
          Stream{' '}
          <select value={stream} onChange={(e) => setStream(e.target.value as typeof stream)}>
            <option value="all">all</option>
            <option value="user">user</option>
            <option value="system">system</option>
            <option value="build">build</option>
          </select>
        </label>
      </div>
      <pre
        {...follow}
        className="log-lines"
        data-testid="job-log"
        tabIndex={0}
        aria-label="Job log"
      >
        {shown.map((l) => (
          <span key={l.id} className={`line ${l.stream}`}>
            {l.text}
          </span>
        ))}
      </pre>
      {state.error ? <p className="form-error">{state.error}</p> : null}
    </div>
  );
}
