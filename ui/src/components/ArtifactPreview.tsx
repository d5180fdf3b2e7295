import { useEffect, useState } from 'react';
import type { LapisClient } from '../../../src/client/index.js';
import { fmtBytes } from '../lib/format.js';
import { ErrorView, Loading } from './States.js';

const IMAGE = /\.(png|jpe?g|gif|svg|webp|bmp)$/i;
const TABLE = /\.(csv|tsv)$/i;
const TEXT = /(\.(txt|log|py|ya?ml|md|cfg|ini|toml|sh|r|sql|html?|xml|requirements)|(^|\/)(MLmodel|requirements\.txt|conda\.yaml|python_env\.yaml|LICENSE))$/i;
/** Text previews stop here: a 2 GB log is a download, not a preview. */
const MAX_PREVIEW = 1 << 20;
const MAX_ROWS = 200;

type Preview =
  | { kind: 'image'; url: string }
  | { kind: 'text'; text: string; truncated: boolean; model?: boolean }
  | { kind: 'json'; text: string }
  | { kind: 'table'; columns: string[]; rows: string[][]; more: number }
  | { kind: 'binary'; size: number };

/** A delimited file's first rows (quotes handled; enough for a preview, not a CSV library). */
export function parseDelimited(text: string, sep: string, maxRows = MAX_ROWS): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length <= maxRows; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === sep) {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) rows.push([...row, cell]);
  return rows;
}

async function load(client: LapisClient, runId: string, path: string, size: number | undefined, signal: AbortSignal): Promise<Preview> {
  const res = await client.runs.openArtifact(runId, path, { signal });
  if (IMAGE.test(path)) {
    const blob = await res.blob();
    // SVG stays an <img> (scripts inside do not run there).
    return { kind: 'image', url: URL.createObjectURL(blob) };
  }
  const isJson = /\.json$/i.test(path);
  if (!TEXT.test(path) && !TABLE.test(path) && !isJson) {
    await res.body?.cancel();
    return { kind: 'binary', size: size ?? Number(res.headers.get('content-length') ?? 0) };
  }
  const buf = await res.arrayBuffer();
  const truncated = buf.byteLength > MAX_PREVIEW;
  const text = new TextDecoder().decode(truncated ? buf.slice(0, MAX_PREVIEW) : buf);
  if (TABLE.test(path)) {
    const [head = [], ...rows] = parseDelimited(text, /\.tsv$/i.test(path) ? '\t' : ',');
    const lines = text.split('\n').length - 2;
    return { kind: 'table', columns: head, rows: rows.slice(0, MAX_ROWS), more: Math.max(0, lines - MAX_ROWS) };
  }
  if (isJson && !truncated) {
    try {
      const parsed = JSON.parse(text) as unknown;
      // mlflow.log_table writes {"columns": [...], "data": [[...], ...]}.
      const t = parsed as { columns?: unknown; data?: unknown };
      if (Array.isArray(t.columns) && Array.isArray(t.data)) {
        const rows = (t.data as unknown[][]).slice(0, MAX_ROWS).map((r) => r.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))));
        return { kind: 'table', columns: t.columns.map(String), rows, more: Math.max(0, t.data.length - MAX_ROWS) };
      }
      return { kind: 'json', text: JSON.stringify(parsed, null, 2) };
    } catch {
      // not JSON after all: show the text
    }
  }
  return { kind: 'text', text, truncated, model: /(^|\/)MLmodel$/.test(path) };
}

async function download(client: LapisClient, runId: string, path: string): Promise<void> {
  const blob = await (await client.runs.openArtifact(runId, path)).blob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = path.split('/').pop() ?? 'artifact';
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** One artifact shown by its kind: image, table (CSV, TSV, mlflow.log_table), JSON, text, an MLmodel file. */
export function ArtifactPreview({ client, runId, path, size }: { client: LapisClient; runId: string; path: string; size?: number | undefined }) {
  const [state, setState] = useState<{ preview?: Preview; error?: Error }>({});
  useEffect(() => {
    const ctl = new AbortController();
    setState({});
    let url: string | undefined;
    load(client, runId, path, size, ctl.signal).then(
      (preview) => {
        if (preview.kind === 'image') url = preview.url;
        if (!ctl.signal.aborted) setState({ preview });
      },
      (error: Error) => !ctl.signal.aborted && setState({ error }),
    );
    return () => {
      ctl.abort();
      if (url) URL.revokeObjectURL(url);
    };
  }, [client, runId, path, size]);

  const p = state.preview;
  return (
    <div className="preview" data-testid="artifact-preview">
      <div className="preview-head">
        <code>{path}</code> <span className="hint">{fmtBytes(size)}</span>
        <span className="spacer" />
        <button type="button" onClick={() => void download(client, runId, path)}>
          Download
        </button>
      </div>
      {state.error ? <ErrorView error={state.error} /> : null}
      {!p && !state.error ? <Loading what="Loading the file" /> : null}
      {p?.kind === 'image' ? <img src={p.url} alt={path} /> : null}
      {p?.kind === 'json' || p?.kind === 'text' ? (
        <>
          {p.kind === 'text' && p.model ? <p className="hint">An MLflow model: its flavors say how to load it (mlflow.pyfunc.load_model).</p> : null}
          <pre className="file">{p.text}</pre>
          {p.kind === 'text' && p.truncated ? <p className="hint">The first {fmtBytes(MAX_PREVIEW)} only: download the file for all of it.</p> : null}
        </>
      ) : null}
      {p?.kind === 'table' ? (
        <div className="scroll-x">
          <table className="data">
            <thead>
              <tr>
                {p.columns.map((c, i) => (
                  <th key={i}>{c}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {p.rows.map((r, i) => (
                <tr key={i}>
                  {r.map((v, j) => (
                    <td key={j}>{v}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {p.more > 0 ? <p className="hint">…and {p.more.toLocaleString()} more rows.</p> : null}
        </div>
      ) : null}
      {p?.kind === 'binary' ? <p className="hint">A binary file ({fmtBytes(p.size)}): no preview, download it.</p> : null}
    </div>
  );
}
