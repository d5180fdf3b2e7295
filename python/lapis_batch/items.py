"""What gets scored: the files of a folder or the rows of a table, cut into mini-batches."""
import os

TABLE_READERS = {'.csv': 'csv', '.tsv': 'tsv', '.parquet': 'parquet', '.pq': 'parquet', '.jsonl': 'jsonl', '.json': 'json'}


def list_files(folder):
    """Every file under `folder`, as paths relative to it ('/'-separated), sorted: the order is stable."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in files:
            found.append(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, '/'))
    return sorted(found)


def mini_batches(count, size):
    """[start, stop) ranges cutting `count` items into mini-batches of at most `size`."""
    if size < 1:
        raise ValueError('mini_batch_size must be at least 1, not %r' % size)
    return [(start, min(start + size, count)) for start in range(0, count, size)]


def is_table(path):
    return os.path.splitext(path)[1].lower() in TABLE_READERS


def pandas(what):
    """The pandas module, or an error saying that reading `what` needs it."""
    try:
        import pandas as pd
    except ImportError:
        raise RuntimeError('reading %s needs pandas, which the deployment\'s environment lacks: add pandas to it' % what) from None
    return pd


def read_table(path):
    """A CSV, TSV, Parquet or JSON(-lines) file as a pandas DataFrame."""
    kind = TABLE_READERS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise ValueError('%s is not a table this driver reads (CSV, TSV, Parquet, JSON lines): score other files '
                         'with a scoring script (code_configuration), whose run(mini_batch) gets the file paths'
                         % os.path.basename(path))
    pd = pandas(os.path.basename(path))
    if kind == 'csv':
        return pd.read_csv(path)
    if kind == 'tsv':
        return pd.read_csv(path, sep='\t')
    if kind == 'parquet':
        return pd.read_parquet(path)
    return pd.read_json(path, lines=kind == 'jsonl')
