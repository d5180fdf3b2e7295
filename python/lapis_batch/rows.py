"""Scoring results as rows (dicts in column order), and the rows of every mini-batch merged into one CSV.

Neither numpy nor pandas is imported: their values are recognised by the methods they have."""
import csv
import json
import os


def plain(value):
    """A value of numpy or pandas as the Python value it stands for."""
    if hasattr(value, 'item') and not hasattr(value, '__len__'):  # numpy scalars
        return value.item()
    if hasattr(value, 'isoformat'):  # datetimes, pandas Timestamps
        return value.isoformat()
    if hasattr(value, 'tolist'):
        return value.tolist()
    return value


def _is_frame(value):
    return hasattr(value, 'to_dict') and hasattr(value, 'columns')


def result_rows(result):
    """The rows of what run() returned: a DataFrame's rows; a list of dicts as is; other elements
    (numbers, strings, lists) as a `prediction` column (lists as prediction_0, prediction_1, ...)."""
    if result is None:
        return []
    if _is_frame(result):
        return [{str(k): plain(v) for k, v in record.items()} for record in result.to_dict(orient='records')]
    if isinstance(result, dict):
        raise TypeError('run() returned a dict: return a list (one element per input item) or a pandas DataFrame')
    if isinstance(result, (str, bytes)):
        raise TypeError('run() returned a single %s: return a list (one element per input item) or a pandas DataFrame'
                        % type(result).__name__)
    if hasattr(result, 'tolist') and not _is_frame(result):
        result = result.tolist()
    rows = []
    for element in result:
        element = plain(element)
        if isinstance(element, dict):
            rows.append({str(k): plain(v) for k, v in element.items()})
        elif isinstance(element, (list, tuple)):
            rows.append({'prediction_%d' % i: plain(v) for i, v in enumerate(element)})
        else:
            rows.append({'prediction': element})
    return rows


def prediction_rows(prediction, files, first_row):
    """An MLflow model's predictions for consecutive rows of a table: `file` (`files[i]`, the file row i
    came from), `row` (its index in the table: a file, or an MLTable's table) and the prediction's
    columns (`prediction` for a single value per row)."""
    rows = result_rows(prediction)
    return [dict([('file', files[i]), ('row', first_row + i)] + list(r.items())) for i, r in enumerate(rows)]


def write_part(path, rows):
    with open(path, 'w', encoding='utf-8') as f:
        for r in rows:
            f.write(json.dumps(r, default=str))
            f.write('\n')


def _read_part(path):
    with open(path, encoding='utf-8') as f:
        for line in f:
            yield json.loads(line)


def merge(parts, target):
    """Writes the rows of `parts` (in that order) to the CSV `target`, with a header of every column seen,
    in the order first seen. Returns the number of rows."""
    columns = {}
    for part in parts:
        for r in _read_part(part):
            for k in r:
                columns.setdefault(k, None)
    count = 0
    tmp = target + '.tmp'
    with open(tmp, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), restval='', extrasaction='ignore', lineterminator='\n')
        if columns:
            writer.writeheader()
        for part in parts:
            for r in _read_part(part):
                writer.writerow({k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})
                count += 1
    os.replace(tmp, target)
    return count
