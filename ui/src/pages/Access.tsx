import { useState, type FormEvent } from 'react';
import type { NewToken } from '../../../src/client/index.js';
import { AsyncView, Empty, ErrorView } from '../components/States.js';
import { fmtTime } from '../lib/format.js';
import { navigate, paths } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { useAsync } from '../lib/use-async.js';

/** Runs a change, then refreshes; its error shows beside the form instead of failing the page. */
function useAction(after: () => void): { run: (fn: () => Promise<unknown>) => Promise<void>; error: Error | undefined; busy: boolean } {
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  return {
    error,
    busy,
    run: async (fn) => {
      setBusy(true);
      setError(undefined);
      try {
        await fn();
        after();
      } catch (err) {
        setError(err instanceof Error ? err : new Error(String(err)));
      } finally {
        setBusy(false);
      }
    },
  };
}

function Members({ owner }: { owner: boolean }) {
  const { client, workspace } = useSession();
  const list = useAsync(() => client.roleAssignments.list(), [client]);
  const roles = useAsync(() => client.roles.list(), [client]);
  const action = useAction(list.reload);
  const [principal, setPrincipal] = useState('');
  const [role, setRole] = useState('Reader');
  const assign = (e: FormEvent) => {
    e.preventDefault();
    void action.run(() => client.roleAssignments.assign(principal.trim(), role)).then(() => setPrincipal(''));
  };
  return (
    <section className="card">
      <h2>Members and roles in {workspace}</h2>
      <AsyncView state={list} what="Loading role assignments">
        {(l) =>
          l.assignments.length === 0 ? (
            <p className="hint">No one holds a role here yet (server admins reach every workspace).</p>
          ) : (
            <table className="data" data-testid="members">
              <thead>
                <tr>
                  <th>Principal</th>
                  <th>Kind</th>
                  <th>Role</th>
                  <th>Since</th>
                  {owner ? <th /> : null}
                </tr>
              </thead>
              <tbody>
                {l.assignments.map((a) => (
                  <tr key={`${a.principal}/${a.role}`}>
                    <td>{a.principal}</td>
                    <td>{a.kind}</td>
                    <td>{a.role}</td>
                    <td>{fmtTime(a.created_at)}</td>
                    {owner ? (
                      <td>
                        <button type="button" disabled={action.busy} onClick={() => void action.run(() => client.roleAssignments.remove(a.principal, a.role))} aria-label={`Remove ${a.role} from ${a.principal}`}>
                          Remove
                        </button>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </AsyncView>
      {owner ? (
        <form className="inline-form" onSubmit={assign} aria-label="Assign a role">
          <input placeholder="user or service principal" value={principal} onChange={(e) => setPrincipal(e.target.value)} required aria-label="Principal" />
          <select value={role} onChange={(e) => setRole(e.target.value)} aria-label="Role">
            {(roles.data?.roles ?? [{ name: 'Reader' }]).map((r) => (
              <option key={r.name}>{r.name}</option>
            ))}
          </select>
          <button type="submit" disabled={action.busy}>
            Assign
          </button>
        </form>
      ) : (
        <p className="hint">Only the workspace's Owners assign roles.</p>
      )}
      {action.error ? <ErrorView error={action.error} /> : null}
    </section>
  );
}

function Tokens() {
  const { client } = useSession();
  const list = useAsync(() => client.tokens.list(), [client]);
  const action = useAction(list.reload);
  const [name, setName] = useState('');
  const [expires, setExpires] = useState('30d');
  const [created, setCreated] = useState<NewToken>();
  const create = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => setCreated(await client.tokens.create({ ...(name ? { name } : {}), ...(expires ? { expires } : {}) })));
  };
  return (
    <section className="card">
      <h2>My tokens</h2>
      <AsyncView state={list} what="Loading tokens">
        {(l) => (
          <table className="data" data-testid="tokens">
            <thead>
              <tr>
                <th>Name</th>
                <th>Id</th>
                <th>Created</th>
                <th>Expires</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {l.tokens.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td>
                    <code>{t.id}</code>
                  </td>
                  <td>{fmtTime(t.created_at)}</td>
                  <td>{t.expires_at ? fmtTime(t.expires_at) : 'never'}</td>
                  <td>{fmtTime(t.last_used_at)}</td>
                  <td>
                    {t.revoked_at ? (
                      'revoked'
                    ) : (
                      <button type="button" disabled={action.busy} onClick={() => void action.run(() => client.tokens.revoke(t.id))} aria-label={`Revoke ${t.name}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </AsyncView>
      <form className="inline-form" onSubmit={create} aria-label="Create a token">
        <input placeholder="name, e.g. ci" value={name} onChange={(e) => setName(e.target.value)} aria-label="Token name" />
        <input placeholder="expires, e.g. 30d (empty: never)" value={expires} onChange={(e) => setExpires(e.target.value)} aria-label="Expires" />
        <button type="submit" disabled={action.busy}>
          Create token
        </button>
      </form>
      {created ? (
        <p className="secret" role="status">
          New token <strong>{created.name}</strong>, shown this once: <code data-testid="new-token">{created.token}</code>
        </p>
      ) : null}
      {action.error ? <ErrorView error={action.error} /> : null}
    </section>
  );
}

function Audit() {
  const { client } = useSession();
  const [since, setSince] = useState('1d');
  const list = useAsync(() => client.audit.list({ since, limit: 500 }), [client, since]);
  return (
    <section className="card">
      <h2>Audit log</h2>
      <label>
        Since{' '}
        <select value={since} onChange={(e) => setSince(e.target.value)}>
          <option value="1h">1 hour</option>
          <option value="1d">1 day</option>
          <option value="7d">7 days</option>
          <option value="30d">30 days</option>
        </select>
      </label>
      <AsyncView state={list} what="Loading the audit log">
        {(l) =>
          l.entries.length === 0 ? (
            <Empty title="Nothing recorded in this period" />
          ) : (
            <div className="scroll-x">
              <table className="data" data-testid="audit">
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Who</th>
                    <th>Action</th>
                    <th>Resource</th>
                    <th>Outcome</th>
                  </tr>
                </thead>
                <tbody>
                  {l.entries.map((e) => (
                    <tr key={e.id} className={e.outcome !== 'allowed' ? 'differs' : undefined}>
                      <td>{fmtTime(e.time)}</td>
                      <td>{e.principal}</td>
                      <td>{e.action}</td>
                      <td>{e.resource}</td>
                      <td>
                        {e.outcome} ({e.status})
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </AsyncView>
    </section>
  );
}

function Workspaces() {
  const { client, me } = useSession();
  const list = useAsync(() => client.workspaces.list(), [client]);
  const action = useAction(list.reload);
  const [name, setName] = useState('');
  return (
    <section className="card">
      <h2>Workspaces</h2>
      <AsyncView state={list} what="Loading workspaces">
        {(l) => (
          <ul className="files">
            {l.workspaces.map((w) => (
              <li key={w.name}>
                <a href={paths.experiments(w.name)} onClick={(e) => (e.preventDefault(), navigate(`/w/${encodeURIComponent(w.name)}/access`))}>
                  {w.name}
                </a>{' '}
                <span className="hint">{w.description}</span>
              </li>
            ))}
          </ul>
        )}
      </AsyncView>
      {me.is_admin ? (
        <form
          className="inline-form"
          aria-label="Create a workspace"
          onSubmit={(e) => {
            e.preventDefault();
            void action.run(() => client.workspaces.create(name.trim())).then(() => setName(''));
          }}
        >
          <input placeholder="new workspace name" value={name} onChange={(e) => setName(e.target.value)} required aria-label="Workspace name" />
          <button type="submit" disabled={action.busy}>
            Create workspace
          </button>
        </form>
      ) : null}
      {action.error ? <ErrorView error={action.error} /> : null}
    </section>
  );
}

/** Access: who holds which role here (Owners change it), the caller's tokens, the audit log, workspaces. */
export default function AccessPage() {
  const { me, workspace } = useSession();
  const roles = me.workspaces.find((w) => w.name === workspace)?.roles ?? [];
  const owner = me.is_admin || roles.includes('Owner');
  if (!me.auth_enabled) {
    return (
      <section className="page">
        <h1>Access</h1>
        <Empty title="Authentication is off">This server runs with --auth off: every local caller is the admin. Start it with --auth on for users, tokens, roles and the audit log.</Empty>
      </section>
    );
  }
  return (
    <section className="page">
      <div className="page-head">
        <h1>Access</h1>
        <span className="hint">
          you are {me.name}
          {me.is_admin ? ' (server admin)' : roles.length ? ` (${roles.join(', ')} here)` : ''}
        </span>
      </div>
      <div className="grid2">
        <Members owner={owner} />
        <Tokens />
      </div>
      {owner ? <Audit /> : <p className="hint">The audit log is for the workspace's Owners.</p>}
      <Workspaces />
    </section>
  );
}
