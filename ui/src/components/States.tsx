import type { ReactNode } from 'react';
import type { Async } from '../lib/use-async.js';

export const Loading = ({ what = 'Loading' }: { what?: string }) => (
  <div className="state loading" role="status" aria-live="polite">
    <span className="spinner" aria-hidden="true" /> {what}…
  </div>
);

export const Empty = ({ title, children }: { title: string; children?: ReactNode }) => (
  <div className="state empty" role="status">
    <strong>{title}</strong>
    {children ? <div className="hint">{children}</div> : null}
  </div>
);

export function ErrorView({ error, retry }: { error: Error; retry?: () => void }) {
  const code = (error as { code?: string }).code;
  return (
    <div className="state error" role="alert">
      <strong>{code === 'NOT_FOUND' ? 'Not found' : code === 'PERMISSION_DENIED' ? 'Not allowed' : 'Something went wrong'}</strong>
      <pre className="message">{error.message}</pre>
      {retry ? (
        <button type="button" onClick={retry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

/** Loading, error or the content: the three states every page shows the same way. */
export function AsyncView<T>({ state, children, what }: { state: Async<T> & { reload: () => void }; children: (data: T) => ReactNode; what?: string }) {
  if (state.status === 'error') return <ErrorView error={state.error} retry={state.reload} />;
  if (state.data === undefined) return <Loading {...(what ? { what } : {})} />;
  return <>{children(state.data)}</>;
}
