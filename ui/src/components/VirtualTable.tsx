import { useCallback, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';

export interface Column<T> {
  id: string;
  header: ReactNode;
  /** Pixels. */
  width: number;
  cell: (row: T, index: number) => ReactNode;
  /** Shown as the header's sort state; clicking the header calls onSort. */
  sort?: 'asc' | 'desc' | undefined;
  sortable?: boolean;
  align?: 'left' | 'right';
}

export interface VirtualTableProps<T> {
  label: string;
  columns: Column<T>[];
  rowCount: number;
  /** The row at an index, or undefined while its page loads (a placeholder row is drawn). */
  row: (index: number) => T | undefined;
  rowKey: (row: T | undefined, index: number) => string;
  rowHeight?: number;
  /** Called with the visible index range (plus overscan) whenever it changes, to load pages. */
  onRange?: (start: number, end: number) => void;
  onOpen?: (row: T, index: number) => void;
  onSelect?: (row: T, index: number) => void;
  onSort?: (columnId: string) => void;
  height?: number;
}

const OVERSCAN = 10;

/**
 * A table that draws only the rows in view: 100,000 rows cost as much as 30. The grid is one
 * focusable element; arrows, PageUp/PageDown, Home/End move the active row, Enter opens it and
 * Space selects it.
 */
export function VirtualTable<T>({ label, columns, rowCount, row, rowKey, rowHeight = 32, onRange, onOpen, onSelect, onSort, height = 560 }: VirtualTableProps<T>) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(height);
  const [active, setActive] = useState(0);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setViewport(el.clientHeight || height);
    measure();
    const ro = typeof ResizeObserver === 'undefined' ? undefined : new ResizeObserver(measure);
    ro?.observe(el);
    return () => ro?.disconnect();
  }, [height]);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN);
  const last = Math.min(rowCount, Math.ceil((scrollTop + viewport) / rowHeight) + OVERSCAN);
  useEffect(() => onRange?.(first, last), [first, last, onRange]);
  useEffect(() => setActive((a) => Math.min(a, Math.max(0, rowCount - 1))), [rowCount]);

  const reveal = useCallback(
    (index: number) => {
      const el = scroller.current;
      if (!el) return;
      const top = index * rowHeight;
      const headerless = viewport - rowHeight; // the sticky header covers one row
      if (top < el.scrollTop) el.scrollTop = top;
      else if (top + rowHeight > el.scrollTop + headerless) el.scrollTop = top + rowHeight - headerless;
      // Draw the new rows now rather than on the scroll event, which comes a frame later.
      setScrollTop(el.scrollTop);
    },
    [rowHeight, viewport],
  );

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (rowCount === 0) return;
    const page = Math.max(1, Math.floor(viewport / rowHeight) - 1);
    const moves: Record<string, number> = { ArrowDown: active + 1, ArrowUp: active - 1, j: active + 1, k: active - 1, PageDown: active + page, PageUp: active - page, Home: 0, End: rowCount - 1 };
    const to = moves[e.key];
    if (to !== undefined) {
      e.preventDefault();
      const next = Math.max(0, Math.min(rowCount - 1, to));
      setActive(next);
      reveal(next);
      return;
    }
    const current = row(active);
    if (current === undefined) return;
    if (e.key === 'Enter' && onOpen) {
      e.preventDefault();
      onOpen(current, active);
    } else if (e.key === ' ' && onSelect) {
      e.preventDefault();
      onSelect(current, active);
    }
  };

  const template = columns.map((c) => `${c.width}px`).join(' ');
  const width = columns.reduce((w, c) => w + c.width, 0);
  const rows: ReactNode[] = [];
  for (let i = first; i < last; i++) {
    const r = row(i);
    rows.push(
      <div
        key={rowKey(r, i)}
        id={`${label.replace(/\W+/g, '-')}-row-${i}`}
        role="row"
        aria-rowindex={i + 2}
        aria-selected={i === active}
        className={`vrow${i === active ? ' active' : ''}${r === undefined ? ' pending' : ''}`}
        style={{ transform: `translateY(${i * rowHeight}px)`, height: rowHeight, gridTemplateColumns: template }}
        onClick={() => setActive(i)}
        onDoubleClick={() => r !== undefined && onOpen?.(r, i)}
      >
        {columns.map((c) => (
          <div key={c.id} role="gridcell" className={c.align === 'right' ? 'num' : undefined}>
            {r === undefined ? <span className="placeholder" /> : c.cell(r, i)}
          </div>
        ))}
      </div>,
    );
  }

  return (
    <div
      ref={scroller}
      className="vtable"
      role="grid"
      aria-label={label}
      aria-rowcount={rowCount + 1}
      aria-activedescendant={rowCount > 0 ? `${label.replace(/\W+/g, '-')}-row-${active}` : undefined}
      tabIndex={0}
      style={{ height }}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      onKeyDown={onKeyDown}
    >
      <div role="row" aria-rowindex={1} className="vhead" style={{ gridTemplateColumns: template, width }}>
        {columns.map((c) => (
          <div key={c.id} role="columnheader" aria-sort={c.sort === 'asc' ? 'ascending' : c.sort === 'desc' ? 'descending' : undefined} className={c.align === 'right' ? 'num' : undefined}>
            {c.sortable && onSort ? (
              <button type="button" className="sort" onClick={() => onSort(c.id)} title="Sort">
                {c.header}
                <span aria-hidden="true">{c.sort === 'asc' ? ' ▲' : c.sort === 'desc' ? ' ▼' : ''}</span>
              </button>
            ) : (
              c.header
            )}
          </div>
        ))}
      </div>
      <div className="vbody" role="rowgroup" style={{ height: rowCount * rowHeight, width }}>
        {rows}
      </div>
    </div>
  );
}
