"""The rows of an mltable input. The server read the MLTable file, checked it and resolved its paths
(src/serving/mltable.ts); its plan comes as JSON in BATCH_MLTABLE_PLAN:

    {"files": ["data/a.csv", ...], "read": {"format": "delimited" | "parquet" | "json_lines", "options": {...}},
     "steps": [{"take": 5}, {"skip": 1}, {"drop_columns": [...]}, {"keep_columns": [...]}]}

The files are read in order and concatenated, then the steps apply in order, as Azure ML's mltable does."""
import json
import os

from . import items as items_mod

ENV = 'BATCH_MLTABLE_PLAN'
# MLTable's encoding names -> Python's codecs.
ENCODINGS = {'utf8': 'utf-8', 'iso88591': 'iso-8859-1', 'latin1': 'latin-1', 'ascii': 'ascii', 'utf16': 'utf-16',
             'utf32': 'utf-32', 'utf8bom': 'utf-8-sig', 'windows1252': 'cp1252'}


class Table:
    """`frame`: the rows, indexed 0..n-1; `sources[i]`: the file (relative to the MLTable's folder) row i came from."""

    def __init__(self, frame, sources):
        self.frame = frame
        self.sources = sources


def plan_from_env(environ=None):
    text = (os.environ if environ is None else environ).get(ENV)
    if not text:
        raise ValueError('an mltable input needs its plan in %s (the server sets it when a batch endpoint is invoked)' % ENV)
    return json.loads(text)


def load(folder, plan):
    pd = items_mod.pandas('the MLTable table')
    read = plan['read']
    reader = {'delimited': _delimited, 'parquet': _parquet, 'json_lines': _json_lines}[read['format']]
    options = read['options']
    frames, sources, first = [], [], None
    for i, rel in enumerate(plan['files']):
        frame = reader(pd, os.path.join(folder, *rel.split('/')), rel, options, first)
        if i == 0:
            first = list(frame.columns)
        if options.get('include_path_column'):
            frame.insert(0, 'Path', rel)
        frames.append(frame)
        sources.extend([rel] * len(frame))
    table = Table(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(), sources)
    for step in plan.get('steps') or []:
        _apply(table, step)
    return table


def _apply(table, step):
    (name, value), = step.items()
    if name in ('take', 'skip'):
        rows = slice(0, value) if name == 'take' else slice(value, None)
        table.frame = table.frame.iloc[rows].reset_index(drop=True)
        table.sources = table.sources[rows]
        return
    missing = [c for c in value if c not in table.frame.columns]
    if missing:
        raise ValueError('MLTable %s names %s, which the table does not have (its columns: %s)'
                         % (name, ', '.join(repr(c) for c in missing), ', '.join(str(c) for c in table.frame.columns)))
    table.frame = table.frame.drop(columns=value) if name == 'drop_columns' else table.frame[list(value)]


def _delimited(pd, path, rel, options, first_columns):
    header = options['header']
    kwargs = {'sep': options['delimiter'], 'encoding': ENCODINGS[options['encoding']],
              # Only empty fields are nulls, as in MLTable: text such as "NA" stays text.
              'keep_default_na': False, 'na_values': ['']}
    if not options['infer_column_types']:
        kwargs['dtype'] = str
    later = first_columns is not None
    if header == 'no_header':
        kwargs['header'] = None
    elif header == 'from_first_file' and later:
        kwargs.update(header=None, names=first_columns)
    frame = pd.read_csv(path, **kwargs)
    if header == 'no_header':
        frame.columns = ['Column%d' % (n + 1) for n in range(len(frame.columns))]
    elif header == 'all_files_same_headers' and later:
        # The first file's header names the columns; the other files' first lines are headers too.
        if len(frame.columns) != len(first_columns):
            raise ValueError('%s has %d columns but the first file has %d: with header all_files_same_headers every file must '
                             'have the same columns (use all_files_different_headers to unite them by name)'
                             % (rel, len(frame.columns), len(first_columns)))
        frame.columns = first_columns
    if options['empty_as_string']:
        # Text columns only: empty values of numbers and dates stay null, as MLTable documents.
        for column in frame.columns:
            if not (pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_datetime64_any_dtype(frame[column])):
                frame[column] = frame[column].fillna('')
    return frame


def _parquet(pd, path, _rel, _options, _first):
    return pd.read_parquet(path)


def _json_lines(pd, path, rel, options, _first):
    records = []
    with open(path, encoding=ENCODINGS[options['encoding']]) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError('a JSON %s, not an object' % type(record).__name__)
            except ValueError as e:
                if options['invalid_lines'] == 'drop':
                    continue
                raise ValueError('%s line %d is not a JSON object (%s); invalid_lines: drop leaves such lines out' % (rel, number, e)) from None
            records.append(record)
    return pd.DataFrame.from_records(records)
