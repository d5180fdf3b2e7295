import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from 'react';
import type { WhoAmI } from '../../src/client/index.js';
import { Layout } from './components/Layout.js';
import { Empty, ErrorView, Loading } from './components/States.js';
import LoginPage from './pages/Login.js';
import ExperimentsPage from './pages/Experiments.js';
import RunsPage from './pages/Runs.js';
import { Link, matchPath, navigate, paths, useLocation, type AssetKind } from './lib/router.js';
import { clientFor, SessionContext, storedToken, storeToken, tokenId, type Session } from './lib/session.js';

// Pages with charts and logs load on demand: the first paint of the runs table needs none of them.
const RunPage = lazy(() => import('./pages/Run.js'));
const ComparePage = lazy(() => import('./pages/Compare.js'));
const JobsPage = lazy(() => import('./pages/Jobs.js'));
const JobPage = lazy(() => import('./pages/Job.js'));
const ModelsPage = lazy(() => import('./pages/Models.js').then((m) => ({ default: m.ModelsPage })));
const ModelPage = lazy(() => import('./pages/Models.js').then((m) => ({ default: m.ModelPage })));
const AssetsPage = lazy(() => import('./pages/Assets.js').then((m) => ({ default: m.AssetsPage })));
const AssetPage = lazy(() => import('./pages/Assets.js').then((m) => ({ default: m.AssetPage })));
const ComputesPage = lazy(() => import('./pages/Computes.js'));
const EndpointsPage = lazy(() => import('./pages/Endpoints.js').then((m) => ({ default: m.EndpointsPage })));
const EndpointPage = lazy(() => import('./pages/Endpoints.js').then((m) => ({ default: m.EndpointPage })));
const AccessPage = lazy(() => import('./pages/Access.js'));

const ASSET_KINDS: readonly AssetKind[] = ['data', 'environments', 'components'];

function Page({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if ((m = matchPath('/w/:ws/experiments', path))) return <ExperimentsPage />;
  if ((m = matchPath('/w/:ws/experiments/:id', path))) return <RunsPage key={m.id} experimentId={m.id as string} />;
  if ((m = matchPath('/w/:ws/runs/:id', path))) return <RunPage key={m.id} runId={m.id as string} />;
  if (matchPath('/w/:ws/compare', path)) return <ComparePage />;
  if (matchPath('/w/:ws/jobs', path)) return <JobsPage />;
  if ((m = matchPath('/w/:ws/jobs/:name', path))) return <JobPage key={m.name} name={m.name as string} />;
  if (matchPath('/w/:ws/models', path)) return <ModelsPage />;
  if ((m = matchPath('/w/:ws/models/:name', path))) return <ModelPage key={m.name} name={m.name as string} />;
  if (matchPath('/w/:ws/computes', path)) return <ComputesPage />;
  if (matchPath('/w/:ws/endpoints', path)) return <EndpointsPage />;
  if ((m = matchPath('/w/:ws/endpoints/:name', path))) return <EndpointPage key={m.name} name={m.name as string} />;
  if (matchPath('/w/:ws/access', path)) return <AccessPage />;
  if ((m = matchPath('/w/:ws/:kind', path)) && ASSET_KINDS.includes(m.kind as AssetKind)) return <AssetsPage key={m.kind} kind={m.kind as AssetKind} />;
  if ((m = matchPath('/w/:ws/:kind/:name', path)) && ASSET_KINDS.includes(m.kind as AssetKind)) return <AssetPage key={`${m.kind}/${m.name}`} kind={m.kind as AssetKind} name={m.name as string} />;
  return (
    <Empty title="No such page">
      <Link to="/">Go to the experiments</Link>
    </Empty>
  );
}

/**
 * The mlflow client prints links to MLflow's UI (`<server>/[workspaces/<ws>/]#/experiments/1/runs/<id>`):
 * they open the same experiment or run here.
 */
function fromMlflowLink(pathname: string, hash: string): string | undefined {
  const m = /^#\/experiments\/(\d+)(?:\/runs\/([0-9a-f]+))?/.exec(hash);
  const ws = /^\/workspaces\/([^/]+)\/?$/.exec(pathname)?.[1] ?? (pathname === '/' ? 'default' : undefined);
  if (!m || ws === undefined) return undefined;
  const workspace = decodeURIComponent(ws);
  return m[2] ? paths.run(workspace, m[2]) : paths.experiment(workspace, m[1] as string);
}

type Auth = { state: 'checking' } | { state: 'in'; me: WhoAmI } | { state: 'out'; reason?: string } | { state: 'error'; error: Error };

export function App() {
  const loc = useLocation();
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  useEffect(() => {
    const target = fromMlflowLink(location.pathname, location.hash);
    if (target) navigate(target, { replace: true });
  }, []);
  const check = useCallback(() => {
    setAuth({ state: 'checking' });
    clientFor()
      .auth.whoami()
      .then(
        (me) => setAuth({ state: 'in', me }),
        (error: Error & { code?: string }) => {
          if (error.code !== 'UNAUTHENTICATED') return setAuth({ state: 'error', error });
          const had = storedToken() !== undefined;
          storeToken(undefined);
          setAuth({ state: 'out', ...(had ? { reason: 'Your session has ended: sign in again.' } : {}) });
        },
      );
  }, []);
  useEffect(check, [check]);

  const wsMatch = /^\/w\/([^/]+)/.exec(loc.pathname);
  const workspace = wsMatch ? decodeURIComponent(wsMatch[1] as string) : undefined;
  const session = useMemo<Session | null>(() => {
    if (auth.state !== 'in' || !workspace) return null;
    return {
      me: auth.me,
      workspace,
      client: clientFor(workspace),
      logout: async () => {
        const token = storedToken();
        const id = token ? tokenId(token) : undefined;
        if (id) await clientFor().tokens.revoke(id).catch(() => undefined);
        storeToken(undefined);
        setAuth({ state: 'out' });
      },
    };
  }, [auth, workspace]);

  // `/` and `/login` lead to the experiments of the first workspace the user has a role in.
  useEffect(() => {
    if (auth.state === 'in' && !workspace) {
      const next = loc.query.get('next');
      const first = auth.me.auth_enabled && !auth.me.is_admin ? (auth.me.workspaces[0]?.name ?? 'default') : 'default';
      navigate(next && next.startsWith('/w/') ? next : paths.experiments(first), { replace: true });
    }
  }, [auth, workspace, loc.query]);

  // Signed out: the login page gets its own URL, remembering where to come back to.
  useEffect(() => {
    if (auth.state === 'out' && loc.pathname !== '/login') {
      navigate(`/login?next=${encodeURIComponent(loc.pathname + (loc.query.size ? `?${loc.query}` : ''))}`, { replace: true });
    }
  }, [auth, loc]);

  if (auth.state === 'checking') return <Loading what="Connecting" />;
  if (auth.state === 'error') return <ErrorView error={auth.error} retry={check} />;
  if (auth.state === 'out') return <LoginPage onLogin={check} reason={auth.reason} />;
  if (!session) return <Loading />;
  return (
    <SessionContext.Provider value={session}>
      <Layout>
        <Suspense fallback={<Loading />}>
          <Page path={loc.pathname} />
        </Suspense>
      </Layout>
    </SessionContext.Provider>
  );
}
