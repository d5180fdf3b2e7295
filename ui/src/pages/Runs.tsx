import { useCallback, useMemo, useState } from 'react';
import type { Run } from '../../../src/client/index.js';
import { FilterBox, filterErrorOf } from '../components/FilterBox.js';
import { Empty, ErrorView, Loading } from '../components/States.js';
import { VirtualTable, type Column } from '../components/VirtualTable.js';
import { fmtDuration, fmtNumber, fmtTime } from '../lib/format.js';
import { Link, navigate, paths, useLocation, withQuery } from '../lib/router.js';
import { availableColumns, orderKey, parseColumns, valueOf, type DataColumn } from '../lib/run-columns.js';
import { useRunsSource } from '../lib/runs-source.js';
import { useSession } from '../lib/session.js';
import { useAsync } from '../lib/use-async.js';

const ATTRS: { id: string; header: string; width: number; cell: (r: Run) => string; align?: 'right' }[] = [
  { id: 'attributes.status', header: 'Status', width: 96, cell: (r) => r.info.status },
  { id: 'attributes.start_time', header: 'Started', width: 176, cell: (r) => fmtTime(r.info.start_time) },
  { id: 'duration', header: 'Duration', width: 100, cell: (r) => (r.info.end_time ? fmtDuration(r.info.end_time - r.info.start_time) : 'running'), align: 'right' },
  { id: 'attributes.user_id', header: 'User', width: 110, cell: (r) => r.info.user_id },
];

/** "metrics.loss DESC" → the column id and direction. */
function parseOrder(raw: string | null): { column: string; dir: 'asc' | 'desc' } {
  const m = /^(.*?)\s+(ASC|DESC)$/i.exec(raw ?? '');
  return m ? { column: (m[1] as string).replace(/`/g, ''), dir: (m[2] as string).toLowerCase() as 'asc' | 'desc' } : { column: 'attributes.start_time', dir: 'desc' };
}

export default function RunsPage({ experimentId }: { experimentId: string }) {
  const { client, workspace } = useSession();
  const loc = useLocation();
  const filter = loc.query.get('filter') ?? '';
  const explicitOrder = loc.query.get('order');
  const order = parseOrder(explicitOrder);
  // No order in the URL: the server's own (newest first), which its start-time index serves directly.
  const orderBy = useMemo(() => (explicitOrder ? [`${orderKey(order.column)} ${order.dir.toUpperCase()}`] : []), [explicitOrder, order.column, order.dir]);
  const experiment = useAsync(() => client.experiments.get(experimentId), [client, experimentId]);
  const source = useRunsSource(client, { experimentId, filter, orderBy });
  const [selected, setSelected] = useState<string[]>([]);
  const [picking, setPicking] = useState(false);

  const firstPage = useMemo(() => {
    const rows: Run[] = [];
    for (let i = 0; i < Math.min(100, source.total ?? 0); i++) {
      const r = source.row(i);
      if (r) rows.push(r);
    }
    return rows;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [source.total, source.ready, source.row(0)]);
  const available = useMemo(() => availableColumns(firstPage), [firstPage]);
  const chosen: DataColumn[] = loc.query.has('cols')
    ? parseColumns(loc.query.get('cols'))
    : [...available.filter((c) => c.startsWith('metrics.')).slice(0, 4), ...available.filter((c) => c.startsWith('params.')).slice(0, 3)];

  const setQuery = (changes: Record<string, string | undefined>) => navigate(withQuery(loc, changes), { replace: true });
  const onSort = (id: string) => {
    const dir = order.column === id && order.dir === 'desc' ? 'ASC' : 'DESC';
    setQuery({ order: `${id} ${dir}` });
  };
  const toggle = useCallback((r: Run) => setSelected((s) => (s.includes(r.info.run_id) ? s.filter((x) => x !== r.info.run_id) : [...s, r.info.run_id])), []);

  const sortOf = (id: string) => (order.column === id ? order.dir : undefined);
  const columns: Column<Run>[] = [
    {
      id: 'select',
      header: <span className="sr-only">Select</span>,
      width: 36,
      cell: (r) => <input type="checkbox" aria-label={`Select ${r.info.run_name}`} checked={selected.includes(r.info.run_id)} onChange={() => toggle(r)} tabIndex={-1} />,
    },
    {
      id: 'attributes.run_name',
      header: 'Run',
      width: 220,
      sortable: true,
      sort: sortOf('attributes.run_name'),
      cell: (r) => (
        <Link to={paths.run(workspace, r.info.run_id)} tabIndex={-1}>
          {r.info.run_name || r.info.run_id}
        </Link>
      ),
    },
    ...ATTRS.map((a) => ({ ...a, sortable: a.id !== 'duration', sort: sortOf(a.id), cell: (r: Run) => a.cell(r) })),
    ...chosen.map((c) => ({
      id: c,
      header: <span title={c}>{c.replace(/^metrics\./, '')}</span>,
      width: 130,
      sortable: true,
      sort: sortOf(c),
      align: c.startsWith('metrics.') ? ('right' as const) : ('left' as const),
      cell: (r: Run) => {
        const v = valueOf(r, c);
        return c.startsWith('metrics.') ? fmtNumber(v as never) : (v ?? '');
      },
    })),
  ];

  const filterError = filterErrorOf(source.error, filter);
  const name = experiment.data?.name ?? experimentId;
  return (
    <section className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to={paths.experiments(workspace)}>Experiments</Link> / <span>{name}</span>
      </nav>
      <div className="page-head">
        <h1>{name}</h1>
        <span className="count" aria-live="polite">
          {source.total === undefined ? '' : `${source.total.toLocaleString()} run${source.total === 1 ? '' : 's'}`}
        </span>
        <span className="spacer" />
        <button type="button" onClick={() => setPicking((p) => !p)} aria-expanded={picking}>
          Columns
        </button>
        <button type="button" disabled={selected.length < 2} onClick={() => navigate(paths.compare(workspace, selected))} title="Select runs with Space or the checkboxes">
          Compare {selected.length ? `(${selected.length})` : ''}
        </button>
      </div>
      <FilterBox value={filter} onApply={(f) => setQuery({ filter: f })} error={filterError} />
      {picking ? (
        <fieldset className="column-picker">
          <legend>Columns</legend>
          {available.length === 0 ? <span className="hint">No metrics, params or tags in these runs.</span> : null}
          {available.map((c) => (
            <label key={c}>
              <input
                type="checkbox"
                checked={chosen.includes(c)}
                onChange={() => setQuery({ cols: (chosen.includes(c) ? chosen.filter((x) => x !== c) : [...chosen, c]).join(',') || ',' })}
              />
              {c}
            </label>
          ))}
        </fieldset>
      ) : null}
      {source.error && !filterError ? <ErrorView error={source.error} /> : null}
      {!source.ready && !source.error ? <Loading what="Loading runs" /> : null}
      {source.ready && source.total === 0 ? (
        <Empty title={filter ? 'No run matches this filter' : 'No runs in this experiment yet'}>
          {filter ? 'Change or clear the filter.' : 'Log one with mlflow.start_run() against this server, or run a job.'}
        </Empty>
      ) : null}
      {source.ready && (source.total ?? 0) > 0 ? (
        <VirtualTable
          label="Runs"
          columns={columns}
          rowCount={source.total ?? 0}
          row={source.row}
          rowKey={(r, i) => r?.info.run_id ?? `pending-${i}`}
          onRange={source.need}
          onSort={onSort}
          onOpen={(r) => navigate(paths.run(workspace, r.info.run_id))}
          onSelect={toggle}
          height={Math.max(320, window.innerHeight - 260)}
        />
      ) : null}
    </section>
  );
}
