"""The batch driver: its pure parts (planning mini-batches, rows, merging), and whole runs of the driver
as a batch job runs it (worker processes, retries, timeouts, the error threshold) against real scoring
scripts and a real scikit-learn MLflow model."""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from lapis_batch import items, rows, table
from lapis_batch.driver import Plan

DRIVER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lapis_batch', '__main__.py')


class PureTest(unittest.TestCase):
    def test_mini_batches_cover_every_item_once_in_order(self):
        self.assertEqual(items.mini_batches(7, 3), [(0, 3), (3, 6), (6, 7)])
        self.assertEqual(items.mini_batches(6, 3), [(0, 3), (3, 6)])
        self.assertEqual(items.mini_batches(2, 10), [(0, 2)])
        self.assertEqual(items.mini_batches(0, 10), [])
        with self.assertRaises(ValueError):
            items.mini_batches(5, 0)

    def test_folder_plan_lists_files_recursively_sorted(self):
        root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, root)
        for name in ('b.csv', 'a.csv', 'sub/c.csv', 'sub/a.csv', 'z.txt'):
            os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
            open(os.path.join(root, name), 'w').close()
        plan = Plan(root, 'uri_folder', 2)
        self.assertEqual([r['files'] for r in plan.requests], [['a.csv', 'b.csv'], ['sub/a.csv', 'sub/c.csv'], ['z.txt']])
        self.assertEqual(plan.sizes, [2, 2, 1])
        self.assertEqual(plan.items, 5)

    def test_empty_folder_is_refused(self):
        root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, root)
        with self.assertRaisesRegex(ValueError, 'empty'):
            Plan(root, 'uri_folder', 2)

    def test_result_rows_of_lists_dicts_and_nested(self):
        self.assertEqual(rows.result_rows([1, 'a']), [{'prediction': 1}, {'prediction': 'a'}])
        self.assertEqual(rows.result_rows([{'x': 1}]), [{'x': 1}])
        self.assertEqual(rows.result_rows([[1, 2]]), [{'prediction_0': 1, 'prediction_1': 2}])
        self.assertEqual(rows.result_rows(None), [])
        with self.assertRaisesRegex(TypeError, 'a list'):
            rows.result_rows({'a': 1})

    def test_merge_keeps_part_order_and_unites_columns(self):
        root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, root)
        a, b = os.path.join(root, 'a'), os.path.join(root, 'b')
        rows.write_part(a, [{'file': 'x', 'prediction': 1}])
        rows.write_part(b, [{'file': 'y', 'prediction': 2, 'extra': [1]}])
        target = os.path.join(root, 'out.csv')
        self.assertEqual(rows.merge([a, b], target), 2)
        with open(target) as f:
            self.assertEqual(list(csv.reader(f)), [['file', 'prediction', 'extra'], ['x', '1', ''], ['y', '2', '[1]']])


def run_driver(test, data, script_source=None, *args, input_type='uri_folder', model=None, env=None, timeout=120):
    """Runs the driver as a job does: in a working directory holding the scoring code; returns (code, log,
    rows, error): the rows of predictions.csv (None without one) and what it left in LAPIS_JOB_ERROR_FILE."""
    work = tempfile.mkdtemp(prefix='lapis-batch-test-')
    test.addCleanup(shutil.rmtree, work)
    out = os.path.join(work, 'out')
    error_file = os.path.join(work, 'error.txt')
    argv = [sys.executable, DRIVER, '--data', data, '--input-type', input_type, '--model', model or work, '--output', out]
    if script_source is not None:
        with open(os.path.join(work, 'score.py'), 'w') as f:
            f.write(textwrap.dedent(script_source))
        argv += ['--scoring-script', 'score.py']
    proc = subprocess.run(argv + list(args), cwd=work, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, LAPIS_JOB_ERROR_FILE=error_file, **(env or {})))
    log = proc.stdout + proc.stderr
    target = os.path.join(out, 'predictions.csv')
    table = None
    if os.path.exists(target):
        with open(target) as f:
            table = list(csv.DictReader(f))
    error = None
    if os.path.exists(error_file):
        with open(error_file) as f:
            error = f.read()
    return proc.returncode, log, table, error


def csv_folder(test, files):
    root = tempfile.mkdtemp(prefix='lapis-batch-data-')
    test.addCleanup(shutil.rmtree, root)
    for name, lines in files.items():
        with open(os.path.join(root, name), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return root


# Fails for files named bad*, and for slow* sleeps longer than any timeout the tests set.
SCRIPT = '''
import os, time
def init():
    global calls
    calls = 0
def run(mini_batch):
    out = []
    for path in mini_batch:
        name = os.path.basename(path)
        if name.startswith('bad'):
            raise ValueError('cannot score ' + name)
        if name.startswith('slow'):
            time.sleep(30)
        with open(path) as f:
            out.append({'file': name, 'lines': len(f.read().splitlines()), 'pid': os.getpid()})
    return out
'''


class DriverRunTest(unittest.TestCase):
    def test_scores_every_file_in_order_with_several_workers(self):
        data = csv_folder(self, {'f%02d.csv' % i: ['a'] * (i + 1) for i in range(9)})
        code, log, table, _ = run_driver(self, data, SCRIPT, '--mini-batch-size', '2', '--instances', '1', '--max-concurrency-per-instance', '3')
        self.assertEqual(code, 0, log)
        self.assertEqual([r['file'] for r in table], ['f%02d.csv' % i for i in range(9)])
        self.assertEqual([int(r['lines']) for r in table], list(range(1, 10)))
        self.assertGreater(len({r['pid'] for r in table}), 1, 'three workers should have shared the five mini-batches')
        self.assertIn('mini-batch 5/5', log)
        self.assertIn('Scored 5 mini-batches (9 files)', log)

    def test_a_failing_mini_batch_is_retried_then_counted_within_the_threshold(self):
        data = csv_folder(self, {'a.csv': ['1'], 'bad.csv': ['1'], 'c.csv': ['1']})
        code, log, table, _ = run_driver(self, data, SCRIPT, '--mini-batch-size', '1', '--max-retries', '2', '--error-threshold', '1')
        self.assertEqual(code, 0, log)
        self.assertEqual(log.count('cannot score bad.csv'), 3 + 1, log)  # three attempts, then the summary
        self.assertIn('attempt 3/3 failed', log)
        self.assertIn('1 item failed, within error_threshold 1', log)
        self.assertEqual([r['file'] for r in table], ['a.csv', 'c.csv'])

    def test_failures_beyond_the_threshold_fail_the_job_keeping_what_succeeded(self):
        # One worker, in order: a.csv succeeds, bad1 and bad2 fail (2 > 1), d.csv and e.csv never run.
        data = csv_folder(self, {'a.csv': ['1', '2'], 'bad1.csv': ['1'], 'bad2.csv': ['1'], 'd.csv': ['1'], 'e.csv': ['1']})
        code, log, table, error = run_driver(self, data, SCRIPT, '--mini-batch-size', '1', '--max-retries', '0', '--error-threshold', '1')
        self.assertEqual(code, 1, log)
        self.assertIn('Batch scoring failed: 2 items failed, more than error_threshold 1; stopped after 3 of 5 mini-batches', log)
        self.assertIn('mini-batch 2 (files bad1.csv): ValueError: cannot score bad1.csv', log)
        self.assertIn('Not run (the job stopped first): mini-batches 4-5 (files d.csv; files e.csv)', log)
        self.assertIn('Kept: the 1 mini-batch that succeeded (1 row) in predictions.csv of output score, a partial output', log)
        self.assertEqual([(r['file'], r['lines']) for r in table], [('a.csv', '2')])
        self.assertEqual(error, 'Batch scoring failed: 2 items failed, more than error_threshold 1: '
                                'mini-batch 2 (files bad1.csv): ValueError: cannot score bad1.csv; '
                                'mini-batch 3 (files bad2.csv): ValueError: cannot score bad2.csv; 2 mini-batches not run. '
                                'Kept: the 1 mini-batch that succeeded (1 row) in predictions.csv of output score, a partial output.')

    def test_a_threshold_failure_with_nothing_scored_writes_no_file(self):
        data = csv_folder(self, {'bad1.csv': ['1'], 'bad2.csv': ['1']})
        code, log, table, error = run_driver(self, data, SCRIPT, '--mini-batch-size', '1', '--max-retries', '0', '--error-threshold', '0')
        self.assertEqual(code, 1, log)
        self.assertIsNone(table)
        self.assertIn('Kept: nothing: no mini-batch succeeded, so no predictions.csv was written', error)

    def test_the_job_error_names_at_most_five_failed_mini_batches(self):
        data = csv_folder(self, {'bad%d.csv' % i: ['1'] for i in range(7)})
        code, log, _, error = run_driver(self, data, SCRIPT, '--mini-batch-size', '1', '--max-retries', '0', '--error-threshold', '6')
        self.assertEqual(code, 1, log)
        self.assertEqual(error.count('ValueError'), 5, error)
        self.assertIn('(+2 more in the log)', error)
        summary = log[log.index('Batch scoring failed'):]
        self.assertEqual([line.strip().split(' (')[0] for line in summary.split('\n') if 'ValueError' in line],
                         ['[batch]   mini-batch %d' % n for n in range(1, 8)])

    def test_minus_one_ignores_every_failure(self):
        data = csv_folder(self, {'bad1.csv': ['1'], 'bad2.csv': ['1']})
        code, log, table, _ = run_driver(self, data, SCRIPT, '--mini-batch-size', '1', '--max-retries', '0', '--error-threshold', '-1')
        self.assertEqual(code, 0, log)
        self.assertEqual(table, [])

    def test_a_mini_batch_past_the_timeout_is_killed_and_retried(self):
        data = csv_folder(self, {'a.csv': ['1'], 'slow.csv': ['1']})
        started = time.monotonic()
        code, log, table, _ = run_driver(self, data, SCRIPT, '--mini-batch-size', '1', '--max-retries', '1', '--timeout', '1', '--error-threshold', '0')
        self.assertEqual(code, 1, log)
        self.assertLess(time.monotonic() - started, 20)
        self.assertIn('attempt 1/2 failed: timed out after 1', log)
        self.assertIn('attempt 2/2 failed: timed out after 1', log)

    def test_fewer_rows_than_items_count_as_failed(self):
        data = csv_folder(self, {'a.csv': ['1'], 'b.csv': ['1']})
        code, log, _, _ = run_driver(self, data, 'def init():\n    pass\ndef run(mini_batch):\n    return [1]\n', '--mini-batch-size', '2', '--error-threshold', '0')
        self.assertEqual(code, 1, log)
        self.assertIn('run() returned 1 rows for 2 files; 1 counted as failed', log)

    def test_mltable_mini_batches_are_dataframes_of_rows(self):
        root = mltable_folder(self, {'MLTable': '', 'a.csv': 'x,y\n' + ''.join('%d,%d\n' % (i, i * i) for i in range(5))})
        plan = {'files': ['a.csv'], 'steps': [{'skip': 1}], 'read': {'format': 'delimited', 'options': delimited()}}
        script = '''
import pandas as pd
def init():
    pass
def run(mini_batch):
    assert isinstance(mini_batch, pd.DataFrame), type(mini_batch)
    return pd.DataFrame({"first_index": [int(mini_batch.index[0])] * len(mini_batch), "x": mini_batch["x"], "sum": mini_batch["x"] + mini_batch["y"]})
'''
        code, log, rows_out, _ = run_driver(self, root, script, '--mini-batch-size', '2', input_type='mltable', env={table.ENV: json.dumps(plan)})
        self.assertEqual(code, 0, log)
        self.assertEqual([(int(r['first_index']), int(r['x']), int(r['sum'])) for r in rows_out], [(0, 1, 2), (0, 2, 6), (2, 3, 12), (2, 4, 20)])
        self.assertIn('Scored 2 mini-batches (4 rows)', log)

    def test_a_bad_table_fails_the_job_at_once_saying_why(self):
        root = mltable_folder(self, {'MLTable': '', 'a.csv': 'x\n1\n'})
        plan = {'files': ['a.csv'], 'steps': [{'drop_columns': ['y']}], 'read': {'format': 'delimited', 'options': delimited()}}
        code, log, _, error = run_driver(self, root, 'def init():\n    pass\ndef run(b):\n    return b\n', input_type='mltable', env={table.ENV: json.dumps(plan)})
        self.assertEqual(code, 1, log)
        self.assertEqual(error, "Batch scoring failed: MLTable drop_columns names 'y', which the table does not have (its columns: x)")

    def test_init_failure_fails_at_once_with_the_traceback(self):
        data = csv_folder(self, {'a.csv': ['1']})
        code, log, _, error = run_driver(self, data, 'def init():\n    raise RuntimeError("no model here")\ndef run(b):\n    return b\n')
        self.assertEqual(code, 1, log)
        self.assertIn('RuntimeError: no model here', log)
        self.assertIn('could not initialize', log)
        self.assertIn('could not initialize (init() or loading the model): RuntimeError: no model here', error)


def delimited(**options):
    return dict({'delimiter': ',', 'header': 'all_files_same_headers', 'encoding': 'utf8', 'empty_as_string': False,
                 'include_path_column': False, 'infer_column_types': True}, **options)


def mltable_folder(test, files):
    """A folder of files (name -> bytes or text), as an mltable data asset's files are laid out."""
    root = tempfile.mkdtemp(prefix='lapis-batch-mltable-')
    test.addCleanup(shutil.rmtree, root)
    for name, body in files.items():
        path = os.path.join(root, *name.split('/'))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(body if isinstance(body, bytes) else body.encode('utf-8'))
    return root


class MLTableReadTest(unittest.TestCase):
    """table.load: the reads and steps of a plan the server made from an MLTable file (needs pandas)."""

    @classmethod
    def setUpClass(cls):
        try:
            import pandas  # noqa: F401
        except ImportError as e:
            raise unittest.SkipTest('needs pandas (the test venv): %s' % e)

    def test_read_delimited_options(self):
        root = mltable_folder(self, {'d/a.csv': 'name;x\nCafé;1\n;2\n'.encode('latin-1'), 'd/b.csv': 'name;x\nNA;\n'.encode('latin-1')})
        plan = {'files': ['d/a.csv', 'd/b.csv'], 'steps': [],
                'read': {'format': 'delimited', 'options': delimited(delimiter=';', encoding='latin1', empty_as_string=True, include_path_column=True)}}
        t = table.load(root, plan)
        self.assertEqual(list(t.frame.columns), ['Path', 'name', 'x'])
        self.assertEqual(t.frame['name'].tolist(), ['Café', '', 'NA'])  # empty -> '' (empty_as_string), "NA" stays text
        self.assertEqual(t.frame['x'].tolist()[:2], [1, 2])
        self.assertTrue(t.frame['x'].isna().tolist()[2])  # an empty number stays null
        self.assertEqual(t.frame['Path'].tolist(), ['d/a.csv', 'd/a.csv', 'd/b.csv'])
        self.assertEqual(t.sources, ['d/a.csv', 'd/a.csv', 'd/b.csv'])
        without = table.load(root, dict(plan, read={'format': 'delimited', 'options': delimited(delimiter=';', encoding='latin1')}))
        self.assertTrue(without.frame['name'].isna().tolist()[1])  # the default: an empty field is null

    def test_headers_from_the_first_file_or_none(self):
        root = mltable_folder(self, {'a.csv': 'x,y\n1,2\n', 'b.csv': '3,4\n'})
        first = table.load(root, {'files': ['a.csv', 'b.csv'], 'steps': [], 'read': {'format': 'delimited', 'options': delimited(header='from_first_file')}})
        self.assertEqual(first.frame.to_dict('list'), {'x': [1, 3], 'y': [2, 4]})
        none = table.load(root, {'files': ['b.csv'], 'steps': [], 'read': {'format': 'delimited', 'options': delimited(header='no_header', infer_column_types=False)}})
        self.assertEqual(none.frame.to_dict('list'), {'Column1': ['3'], 'Column2': ['4']})

    def test_same_headers_need_the_same_number_of_columns(self):
        root = mltable_folder(self, {'a.csv': 'x,y\n1,2\n', 'b.csv': 'x\n3\n'})
        with self.assertRaisesRegex(ValueError, 'b.csv has 1 columns but the first file has 2'):
            table.load(root, {'files': ['a.csv', 'b.csv'], 'steps': [], 'read': {'format': 'delimited', 'options': delimited()}})

    def test_steps_apply_in_order_and_keep_row_sources(self):
        root = mltable_folder(self, {'a.csv': 'x,y,z\n0,0,0\n1,1,1\n', 'b.csv': 'x,y,z\n2,2,2\n3,3,3\n'})
        steps = [{'skip': 1}, {'take': 2}, {'drop_columns': ['z']}, {'keep_columns': ['y']}]
        t = table.load(root, {'files': ['a.csv', 'b.csv'], 'steps': steps, 'read': {'format': 'delimited', 'options': delimited()}})
        self.assertEqual(t.frame.to_dict('list'), {'y': [1, 2]})
        self.assertEqual(t.sources, ['a.csv', 'b.csv'])
        with self.assertRaisesRegex(ValueError, "keep_columns names 'nope', which the table does not have"):
            table.load(root, {'files': ['a.csv'], 'steps': [{'keep_columns': ['nope']}], 'read': {'format': 'delimited', 'options': delimited()}})

    def test_json_lines_with_invalid_lines(self):
        root = mltable_folder(self, {'a.jsonl': '{"x": 1}\nnot json\n\n{"x": 2}\n'})
        read = lambda invalid: {'files': ['a.jsonl'], 'steps': [], 'read': {'format': 'json_lines', 'options': {'invalid_lines': invalid, 'encoding': 'utf8', 'include_path_column': False}}}
        self.assertEqual(table.load(root, read('drop')).frame['x'].tolist(), [1, 2])
        with self.assertRaisesRegex(ValueError, 'a.jsonl line 2 is not a JSON object'):
            table.load(root, read('error'))


class NoCodeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            import mlflow.sklearn
            import pandas as pd
            from sklearn.linear_model import LogisticRegression
        except ImportError as e:
            raise unittest.SkipTest('needs mlflow, pandas and scikit-learn (the test venv): %s' % e)
        cls.root = tempfile.mkdtemp(prefix='lapis-batch-model-')
        cls.addClassCleanup(shutil.rmtree, cls.root)
        frame = pd.DataFrame([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]], columns=['x', 'y'])
        cls.model = LogisticRegression().fit(frame, [0, 1, 0, 1])
        cls.model_dir = os.path.join(cls.root, 'model')
        mlflow.sklearn.save_model(cls.model, cls.model_dir, pip_requirements=['scikit-learn'])
        cls.frame = frame

    def test_rows_of_a_csv_file_are_predicted_in_mini_batches(self):
        path = os.path.join(self.root, 'table.csv')
        self.frame.to_csv(path, index=False)
        code, log, table, _ = run_driver(self, path, None, '--mini-batch-size', '3', input_type='uri_file', model=self.model_dir)
        self.assertEqual(code, 0, log)
        self.assertEqual([int(r['prediction']) for r in table], self.model.predict(self.frame).tolist())
        self.assertEqual([(r['file'], int(r['row'])) for r in table], [('table.csv', i) for i in range(4)])
        self.assertIn('rows 3-3 of table.csv', log)

    def test_mltable_rows_are_predicted_row_by_row(self):
        header, lines = 'x;y', ['%s;%s' % (x, y) for x, y in self.frame.itertuples(index=False)]
        root = mltable_folder(self, {'MLTable': 'paths: [{pattern: ./t/*.csv}]', 't/a.csv': '\n'.join([header] + lines[:3]) + '\n',
                                     't/b.csv': '\n'.join([header] + lines[3:]) + '\n'})
        plan = {'files': ['t/a.csv', 't/b.csv'], 'steps': [], 'read': {'format': 'delimited', 'options': delimited(delimiter=';')}}
        code, log, table_rows, _ = run_driver(self, root, None, '--mini-batch-size', '3', input_type='mltable', model=self.model_dir,
                                              env={table.ENV: json.dumps(plan)})
        self.assertEqual(code, 0, log)
        self.assertEqual([int(r['prediction']) for r in table_rows], self.model.predict(self.frame).tolist())
        self.assertEqual([(r['file'], int(r['row'])) for r in table_rows], [('t/a.csv', 0), ('t/a.csv', 1), ('t/a.csv', 2), ('t/b.csv', 3)])
        self.assertIn('rows 3-3 of t/b.csv', log)

    def test_a_file_that_is_no_table_fails_its_mini_batch(self):
        data = csv_folder(self, {'a.csv': ['x,y', '0.0,1.0'], 'notes.txt': ['hello']})
        code, log, _, _ = run_driver(self, data, None, '--mini-batch-size', '1', '--max-retries', '0', '--error-threshold', '0', model=self.model_dir)
        self.assertEqual(code, 1, log)
        self.assertIn('notes.txt is not a table this driver reads', log)


if __name__ == '__main__':
    unittest.main()
