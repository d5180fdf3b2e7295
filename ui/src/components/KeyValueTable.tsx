import type { ReactNode } from 'react';

/** One row: a label and its value; false, null or undefined leaves the row out. */
export type KeyValueRow = readonly [label: string, value: ReactNode] | false | null | undefined;

/** A two-column table of labelled values, as the detail cards of runs, jobs and assets show them. */
export function KeyValueTable({ rows, testId }: { rows: readonly KeyValueRow[]; testId?: string }) {
  const shown = rows.filter((r): r is readonly [string, ReactNode] => Boolean(r));
  return (
    <table className="kv" data-testid={testId}>
      <tbody>
        {shown.map(([label, value], i) => (
          <tr key={`${i}:${label}`}>
            <th scope="row">{label}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
