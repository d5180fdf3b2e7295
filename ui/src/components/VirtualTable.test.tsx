import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VirtualTable, type Column } from './VirtualTable.js';

interface Row {
  id: number;
  name: string;
}

const columns: Column<Row>[] = [
  { id: 'id', header: 'Id', width: 80, cell: (r) => String(r.id) },
  { id: 'name', header: 'Name', width: 200, cell: (r) => r.name, sortable: true, sort: 'desc' },
];
const row = (i: number): Row => ({ id: i, name: `run-${i}` });

afterEach(cleanup);

function table(props: Partial<Parameters<typeof VirtualTable<Row>>[0]> = {}) {
  return render(<VirtualTable<Row> label="Runs" columns={columns} rowCount={100_000} row={row} rowKey={(r, i) => String(r?.id ?? i)} height={320} {...props} />);
}

describe('VirtualTable', () => {
  it('draws only the rows in view out of 100,000, and announces the full count', () => {
    const onRange = vi.fn();
    table({ onRange });
    const grid = screen.getByRole('grid', { name: 'Runs' });
    expect(grid.getAttribute('aria-rowcount')).toBe('100001');
    // 320 px / 32 px = 10 rows in view, plus overscan; never thousands.
    expect(screen.getAllByRole('row').length - 1).toBeLessThanOrEqual(25);
    expect(onRange).toHaveBeenLastCalledWith(0, 20);
    expect(screen.getByText('run-0')).toBeTruthy();
  });

  it('follows the scroll position, asking for the rows it now shows', () => {
    const onRange = vi.fn();
    table({ onRange });
    const grid = screen.getByRole('grid');
    act(() => {
      grid.scrollTop = 50_000 * 32;
      fireEvent.scroll(grid);
    });
    expect(screen.getByText('run-50000')).toBeTruthy();
    expect(screen.queryByText('run-0')).toBeNull();
    expect(onRange).toHaveBeenLastCalledWith(49_990, 50_020);
  });

  it('draws placeholders for rows still loading', () => {
    table({ row: (i) => (i < 3 ? row(i) : undefined) });
    expect(screen.getByText('run-2')).toBeTruthy();
    expect(document.querySelectorAll('.vrow.pending').length).toBeGreaterThan(5);
  });

  it('moves with the keyboard, opens with Enter and selects with Space', () => {
    const onOpen = vi.fn();
    const onSelect = vi.fn();
    table({ onOpen, onSelect });
    const grid = screen.getByRole('grid');
    fireEvent.keyDown(grid, { key: 'ArrowDown' });
    fireEvent.keyDown(grid, { key: 'ArrowDown' });
    fireEvent.keyDown(grid, { key: 'ArrowUp' });
    expect(grid.getAttribute('aria-activedescendant')).toBe('Runs-row-1');
    fireEvent.keyDown(grid, { key: 'Enter' });
    expect(onOpen).toHaveBeenCalledWith(row(1), 1);
    fireEvent.keyDown(grid, { key: ' ' });
    expect(onSelect).toHaveBeenCalledWith(row(1), 1);
    fireEvent.keyDown(grid, { key: 'End' });
    expect(grid.getAttribute('aria-activedescendant')).toBe('Runs-row-99999');
    // The active row was scrolled into view and drawn.
    expect(screen.getByText('run-99999')).toBeTruthy();
    fireEvent.keyDown(grid, { key: 'Home' });
    expect(grid.scrollTop).toBe(0);
  });

  it('sorts from a sortable header and marks its direction', () => {
    const onSort = vi.fn();
    table({ onSort });
    const header = screen.getByRole('columnheader', { name: /Name/ });
    expect(header.getAttribute('aria-sort')).toBe('descending');
    fireEvent.click(screen.getByRole('button', { name: /Name/ }));
    expect(onSort).toHaveBeenCalledWith('name');
    expect(screen.queryByRole('button', { name: /Id/ })).toBeNull();
  });
});
