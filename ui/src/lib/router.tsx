import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from 'react';

/**
 * The studio's router: the History API and a path pattern matcher. Every page state that matters
 * (filter, sort, columns, tab, selected runs) lives in the URL, so any view is a shareable link.
 */
const listeners = new Set<() => void>();
const notify = () => listeners.forEach((l) => l());
if (typeof window !== 'undefined') window.addEventListener('popstate', notify);

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  notify();
}

const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => listeners.delete(l);
};
const snapshot = () => location.pathname + location.search;

export interface Location {
  pathname: string;
  query: URLSearchParams;
}

export function useLocation(): Location {
  const href = useSyncExternalStore(subscribe, snapshot);
  const q = href.indexOf('?');
  return { pathname: q < 0 ? href : href.slice(0, q), query: new URLSearchParams(q < 0 ? '' : href.slice(q)) };
}

/** `/w/:ws/runs/:id` against a path: the decoded parameters, or null when it does not match. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = path.replace(/\/+$/, '').split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const g = got[i] as string;
    if (w.startsWith(':')) {
      if (g === '') return null;
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return null;
      }
    } else if (w !== g) return null;
  }
  return params;
}

/** The current URL with some query parameters set (undefined or '' removes one). */
export function withQuery(loc: Location, changes: Record<string, string | undefined>): string {
  const q = new URLSearchParams(loc.query);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  return `${loc.pathname}${s ? `?${s}` : ''}`;
}

/** An in-app link: a real anchor (open in new tab, copy link work), navigated without reloading. */
export function Link({ to, children, ...rest }: { to: string; children: ReactNode } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'>) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    rest.onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a {...rest} href={to} onClick={onClick}>
      {children}
    </a>
  );
}

/** The URL segment of each plain asset kind. */
export type AssetKind = 'data' | 'environments' | 'components';

/** URL builders: one place knows the studio's URL scheme. */
export const paths = {
  experiments: (ws: string) => `/w/${encodeURIComponent(ws)}/experiments`,
  experiment: (ws: string, id: string) => `/w/${encodeURIComponent(ws)}/experiments/${encodeURIComponent(id)}`,
  run: (ws: string, id: string) => `/w/${encodeURIComponent(ws)}/runs/${encodeURIComponent(id)}`,
  compare: (ws: string, runIds: string[]) => `/w/${encodeURIComponent(ws)}/compare?runs=${runIds.map(encodeURIComponent).join(',')}`,
  models: (ws: string) => `/w/${encodeURIComponent(ws)}/models`,
  model: (ws: string, name: string, version?: string) => `/w/${encodeURIComponent(ws)}/models/${encodeURIComponent(name)}${version ? `?version=${encodeURIComponent(version)}` : ''}`,
  assets: (ws: string, kind: AssetKind) => `/w/${encodeURIComponent(ws)}/${kind}`,
  asset: (ws: string, kind: AssetKind, name: string, version?: string) =>
    `/w/${encodeURIComponent(ws)}/${kind}/${encodeURIComponent(name)}${version ? `?version=${encodeURIComponent(version)}` : ''}`,
  computes: (ws: string) => `/w/${encodeURIComponent(ws)}/computes`,
  endpoints: (ws: string) => `/w/${encodeURIComponent(ws)}/endpoints`,
  endpoint: (ws: string, name: string) => `/w/${encodeURIComponent(ws)}/endpoints/${encodeURIComponent(name)}`,
  access: (ws: string) => `/w/${encodeURIComponent(ws)}/access`,
  jobs: (ws: string) => `/w/${encodeURIComponent(ws)}/jobs`,
  job: (ws: string, name: string) => `/w/${encodeURIComponent(ws)}/jobs/${encodeURIComponent(name)}`,
};
