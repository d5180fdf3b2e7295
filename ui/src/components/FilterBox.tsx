import { useEffect, useState } from 'react';

export interface FilterError {
  message: string;
  /** Character offset of the bad token in the filter, from the server's parser. */
  position?: number;
  token?: string;
}

/** The server's search-grammar error, as the parser reports it in `details`. */
export function filterErrorOf(err: Error | undefined, filter: string): FilterError | undefined {
  if (!err) return undefined;
  const details = (err as { details?: Record<string, unknown> }).details;
  if (details?.filter !== filter) return undefined;
  const firstLine = err.message.split('\n')[0] ?? err.message;
  return {
    // The message repeats the filter; the box shows it with the token marked instead.
    message: firstLine.replace(/^Invalid filter "(?:[^"\\]|\\.)*": /, '').replace(/^Invalid filter ".*": /, ''),
    ...(typeof details.position === 'number' ? { position: details.position } : {}),
    ...(typeof details.token === 'string' ? { token: details.token } : {}),
  };
}

/**
 * The runs filter, in MLflow's search grammar: applied on Enter; a grammar error appears under the
 * box with the offending token marked where the server's parser stopped.
 */
export function FilterBox({ value, onApply, error }: { value: string; onApply: (filter: string) => void; error: FilterError | undefined }) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const pos = error?.position;
  const tokenLen = Math.max(1, error?.token?.length ?? 1);
  return (
    <form
      className="filter"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        onApply(text.trim());
      }}
    >
      <label htmlFor="filter" className="sr-only">
        Filter runs
      </label>
      <input
        id="filter"
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => e.key === 'Escape' && (e.currentTarget.blur(), setText(value))}
        placeholder="metrics.loss < 0.5 and params.alpha = '0.1'   (press / to focus, Enter to apply)"
        spellCheck={false}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? 'filter-error' : undefined}
        autoComplete="off"
      />
      <button type="submit">Apply</button>
      {value ? (
        <button type="button" onClick={() => onApply('')}>
          Clear
        </button>
      ) : null}
      {error ? (
        <div id="filter-error" className="filter-error" role="alert">
          {pos !== undefined ? (
            <code className="where">
              {value.slice(0, pos)}
              <mark data-testid="bad-token">{value.slice(pos, pos + tokenLen) || ' '}</mark>
              {value.slice(pos + tokenLen)}
            </code>
          ) : null}
          <span>{error.message}</span>
        </div>
      ) : null}
    </form>
  );
}
