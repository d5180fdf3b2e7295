import { useEffect, useState, type ReactNode } from 'react';
import type { Workspace } from '../../../src/client/index.js';
import { Link, navigate, paths, useLocation } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { useAsync } from '../lib/use-async.js';
import { useShortcuts } from '../lib/keys.js';

type Theme = 'light' | 'dark';
const currentTheme = (): Theme =>
  (document.documentElement.dataset.theme as Theme | undefined) ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(currentTheme);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const flip = () => {
    const next = theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem('lapis.theme', next);
    setTheme(next);
  };
  useShortcuts({ t: flip });
  return (
    <button type="button" className="icon" onClick={flip} title="Dark mode (t)" aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} mode`} aria-pressed={theme === 'dark'}>
      {theme === 'dark' ? '☀' : '☾'}
    </button>
  );
}

/** Switching keeps the section (runs → the other workspace's experiments, jobs → its jobs). */
function WorkspaceSwitcher() {
  const { client, workspace } = useSession();
  const { pathname } = useLocation();
  const list = useAsync((signal) => client.workspaces.list().then((r) => r.workspaces, (e: unknown) => (signal.aborted ? [] : Promise.reject(e))), [client]);
  const names = new Set<string>([workspace, ...(list.data ?? []).map((w: Workspace) => w.name)]);
  // The same section in the other workspace (a run or a job there would be another one).
  const onChange = (ws: string) => {
    const section = /^\/w\/[^/]+\/([^/]+)/.exec(pathname)?.[1] ?? 'experiments';
    const keep = ['jobs', 'models', 'data', 'environments', 'components', 'computes', 'endpoints', 'access'].includes(section);
    navigate(`/w/${encodeURIComponent(ws)}/${keep ? section : 'experiments'}`);
  };
  return (
    <label className="switcher">
      <span className="sr-only">Workspace</span>
      <select value={workspace} onChange={(e) => onChange(e.target.value)} title="Workspace">
        {[...names].sort().map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
    </label>
  );
}

const HELP: [string, string][] = [
  ['g e', 'experiments'],
  ['g j', 'jobs'],
  ['g m / g d / g c', 'models / data / compute'],
  ['/', 'focus the filter'],
  ['↑ ↓ PgUp PgDn Home End', 'move in a table'],
  ['← →', 'previous / next tab'],
  ['Enter', 'open the row'],
  ['Space', 'select a run (compare)'],
  ['t', 'dark / light mode'],
  ['?', 'this help'],
];

export function Layout({ children }: { children: ReactNode }) {
  const { me, workspace, logout } = useSession();
  const { pathname } = useLocation();
  const [help, setHelp] = useState(false);
  useShortcuts({
    'g e': () => navigate(paths.experiments(workspace)),
    'g j': () => navigate(paths.jobs(workspace)),
    'g m': () => navigate(paths.models(workspace)),
    'g d': () => navigate(paths.assets(workspace, 'data')),
    'g c': () => navigate(paths.computes(workspace)),
    '?': () => setHelp((h) => !h),
    Escape: () => setHelp(false),
    '/': () => document.getElementById('filter')?.focus(),
  });
  const section = /^\/w\/[^/]+\/([^/]+)/.exec(pathname)?.[1] ?? 'experiments';
  const nav: [string, string, string][] = [
    ['experiments', 'Experiments', paths.experiments(workspace)],
    ['jobs', 'Jobs', paths.jobs(workspace)],
    ['models', 'Models', paths.models(workspace)],
    ['data', 'Data', paths.assets(workspace, 'data')],
    ['environments', 'Environments', paths.assets(workspace, 'environments')],
    ['components', 'Components', paths.assets(workspace, 'components')],
    ['computes', 'Compute', paths.computes(workspace)],
    ['endpoints', 'Endpoints', paths.endpoints(workspace)],
    ['access', 'Access', paths.access(workspace)],
  ];
  // A run or a comparison belongs to the experiments section.
  const current = section === 'runs' || section === 'compare' ? 'experiments' : section;
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to={paths.experiments(workspace)} className="brand">
          Lapis
        </Link>
        <WorkspaceSwitcher />
        <nav aria-label="Sections">
          {nav.map(([id, label, to]) => (
            <Link key={id} to={to} aria-current={current === id ? 'page' : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <span className="spacer" />
        <button type="button" className="icon" onClick={() => setHelp(true)} title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts">
          ?
        </button>
        <ThemeToggle />
        <span className="me" title={me.auth_enabled ? `${me.name}${me.is_admin ? ' (admin)' : ''}` : 'Authentication is off'}>
          {me.auth_enabled ? me.name : 'local'}
        </span>
        {me.auth_enabled ? (
          <button type="button" onClick={() => void logout()}>
            Log out
          </button>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
      {help ? (
        <div className="dialog-backdrop" onClick={() => setHelp(false)}>
          <div className="dialog" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts" onClick={(e) => e.stopPropagation()}>
            <h2>Keyboard shortcuts</h2>
            <table>
              <tbody>
                {HELP.map(([k, what]) => (
                  <tr key={k}>
                    <td>
                      <kbd>{k}</kbd>
                    </td>
                    <td>{what}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <button type="button" autoFocus onClick={() => setHelp(false)}>
              Close
            </button>
          </div>
        </div>
      ) : null}
    </div>
  );
}
