import { useEffect, useState } from 'react';
import { useSession } from '../lib/session.js';
import { useFollowBottom } from '../lib/use-follow-bottom.js';

/** Lines kept on screen, as for job logs. */
const MAX_LINES = 20_000;
const POLL_MS = 1000;

/**
 * A deployment's log, live: its last lines, then what its scoring processes write, read on from
 * the offset the server gives (the same API as `lapis online-deployment get-logs --follow`).
 * Follows the bottom unless the reader scrolls up.
 */
export function DeploymentLog({ endpoint, deployment }: { endpoint: string; deployment: string }) {
  const { client } = useSession();
  const [lines, setLines] = useState<string[]>([]);
  const [error, setError] = useState<string>();

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setLines([]);
    setError(undefined);
    const add = (text: string) => {
      const more = text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
      if (more.length) setLines((l) => [...l, ...more].slice(-MAX_LINES));
    };
    const read = async (after?: number) => {
      try {
        const got = await client.onlineEndpoints.deploymentLog(endpoint, deployment, after === undefined ? { lines: 500 } : { after });
        if (stop) return;
        add(got.log);
        setError(undefined);
        after = got.offset;
      } catch (err) {
        if (!stop) setError(err instanceof Error ? err.message : String(err));
      }
      if (!stop) timer = setTimeout(() => void read(after), POLL_MS);
    };
    void read();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [client, endpoint, deployment]);

  const follow = useFollowBottom<HTMLPreElement>(lines);

  return (
    <div className="log">
      <div className="log-head">
        <span className="badge live" role="status">
          ● live
        </span>
        <span className="hint">{lines.length.toLocaleString()} lines</span>
      </div>
      <pre
        {...follow}
        className="log-lines"
        data-testid="deployment-log"
        tabIndex={0}
        aria-label={`Log of deployment ${deployment}`}
      >
        {lines.map((l, i) => (
          <span key={i} className={`line ${/\[lapis\]/.test(l) ? 'system' : ''}`}>
            {l}
            {'\n'}
          </span>
        ))}
      </pre>
      {error ? <p className="form-error">{error}</p> : null}
    </div>
  );
}
