"""The driver: plan the mini-batches, run them on workers with retries and a timeout, count failures
against the error threshold, merge the rows into the output file, and say how it went."""
import argparse
import os
import queue
import shutil
import sys
import tempfile
import threading
import time

from . import items as items_mod
from . import rows as rows_mod
from . import table as table_mod
from .pool import InitFailed, Worker
from .progress import LEVELS, Progress


def parse_args(argv):
    p = argparse.ArgumentParser(prog='lapis_batch', description='Scores an input in mini-batches (a batch endpoint job).')
    p.add_argument('--data', required=True, help='the input: a folder (uri_folder, mltable) or a file (uri_file)')
    p.add_argument('--input-type', choices=('uri_folder', 'uri_file', 'mltable'), required=True,
                   help='mltable: the plan of its table is read from $%s' % table_mod.ENV)
    p.add_argument('--model', required=True, help="the model's folder (AZUREML_MODEL_DIR of the scoring code)")
    p.add_argument('--output', required=True, help='the folder the output file goes to')
    p.add_argument('--scoring-script', help='score.py (relative to the working directory); none: the MLflow model itself')
    p.add_argument('--mini-batch-size', type=int, default=10)
    p.add_argument('--instances', type=int, default=1)
    p.add_argument('--max-concurrency-per-instance', type=int, default=1)
    p.add_argument('--error-threshold', type=int, default=-1)
    p.add_argument('--output-action', choices=('append_row', 'summary_only'), default='append_row')
    p.add_argument('--output-file-name', default='predictions.csv')
    p.add_argument('--max-retries', type=int, default=3)
    p.add_argument('--timeout', type=float, default=30)
    p.add_argument('--logging-level', choices=sorted(LEVELS, key=LEVELS.get), default='info')
    args = p.parse_args(argv)
    for name in ('mini_batch_size', 'instances', 'max_concurrency_per_instance', 'timeout'):
        if getattr(args, name) <= 0:
            p.error('--%s must be positive' % name.replace('_', '-'))
    if args.max_retries < 0 or args.error_threshold < -1:
        p.error('--max-retries must be >= 0 and --error-threshold >= -1')
    return args


class Plan:
    """The mini-batches: `requests[i]` is what a worker gets, `sizes[i]` its item count, `labels[i]` what it holds.
    For an mltable input, `table` is the table's plan (see table.py), which the workers read too."""

    def __init__(self, data, input_type, size, table=None):
        self.requests, self.sizes, self.labels = [], [], []
        self.table = table
        if input_type == 'mltable':
            sources = table_mod.load(data, table).sources
            if not sources:
                raise ValueError('the MLTable table has no rows: there is nothing to score')
            self.unit = 'row'
            for start, stop in items_mod.mini_batches(len(sources), size):
                files = sorted(set(sources[start:stop]))
                self._add({'start': start, 'stop': stop, 'files': files}, stop - start, 'rows %d-%d of %s' % (start, stop - 1, _names(files)))
        elif input_type == 'uri_folder':
            if not os.path.isdir(data):
                raise ValueError('the input %s is not a folder; invoke with --input-type uri_file for a single file' % data)
            files = items_mod.list_files(data)
            if not files:
                raise ValueError('the input folder is empty: there is nothing to score')
            self.unit = 'file'
            for start, stop in items_mod.mini_batches(len(files), size):
                chunk = files[start:stop]
                self._add({'files': chunk}, len(chunk), 'files %s' % _names(chunk))
        elif items_mod.is_table(data):
            self.unit = 'row'
            count = len(items_mod.read_table(data))
            if count == 0:
                raise ValueError('%s has no rows: there is nothing to score' % os.path.basename(data))
            name = os.path.basename(data)
            for start, stop in items_mod.mini_batches(count, size):
                self._add({'start': start, 'stop': stop, 'files': [name]}, stop - start, 'rows %d-%d of %s' % (start, stop - 1, name))
        else:
            self.unit = 'file'
            self._add({'files': [os.path.basename(data)]}, 1, 'file %s' % os.path.basename(data))
        self.items = sum(self.sizes)

    def _add(self, request, size, label):
        request['index'] = len(self.requests)
        self.requests.append(request)
        self.sizes.append(size)
        self.labels.append(label)


def _names(files, shown=3):
    more = len(files) - shown
    return ', '.join(files[:shown]) + (' (+%d more)' % more if more > 0 else '')


def _ranges(indices, labels, shown=3):
    """Mini-batch numbers as ranges (`4-6, 9`), with the first few labels: what a re-run must cover."""
    spans = []
    for i in indices:
        if spans and spans[-1][1] == i - 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    text = ', '.join('%d' % (lo + 1) if lo == hi else '%d-%d' % (lo + 1, hi + 1) for lo, hi in spans)
    more = len(indices) - shown
    return 'mini-batch%s %s (%s%s)' % ('' if len(indices) == 1 else 'es', text, '; '.join(labels[i] for i in indices[:shown]),
                                       '; +%d more' % more if more > 0 else '')


def _plural(n, word):
    return '%d %s%s' % (n, word, '' if n == 1 else 'es' if word.endswith('ch') else 's')


class Driver:
    ERRORS_SHOWN = 5  # failed mini-batches named in the job's error; the log names them all

    def __init__(self, args, plan, progress, environ=None):
        self.args = args
        self.plan = plan
        self.progress = progress
        self.script = os.path.abspath(args.scoring_script) if args.scoring_script else None
        self.attempts = args.max_retries + 1
        self.todo = queue.Queue()
        for i in range(len(plan.requests)):
            self.todo.put(i)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.succeeded = {}  # index -> part file
        self.failed = {}  # index -> last error
        self.items_failed = 0
        self.notes = []  # successes that returned fewer rows than items
        self.init_failure = None
        self.exceeded = False
        self.started = time.monotonic()
        driver_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ if environ is None else environ)
        env['AZUREML_MODEL_DIR'] = os.path.abspath(args.model)
        env['PYTHONPATH'] = os.pathsep.join([driver_dir] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
        self.env = env
        self.parts = tempfile.mkdtemp(prefix='lapis-batch-parts-')
        self.cfg = {'data': os.path.abspath(args.data), 'input_type': args.input_type, 'model': env['AZUREML_MODEL_DIR'],
                    'scoring_script': self.script, 'parts': self.parts, 'logging_level': args.logging_level, 'table': plan.table}

    def workers(self):
        return max(1, min(self.args.instances * self.args.max_concurrency_per_instance, len(self.plan.requests)))

    def run(self):
        threads = [threading.Thread(target=self._loop, name='lapis-batch-%d' % n, daemon=True) for n in range(self.workers())]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _loop(self):
        worker = None
        try:
            while not self.stop.is_set():
                try:
                    index = self.todo.get_nowait()
                except queue.Empty:
                    return
                worker = self._attempts(index, worker)
        finally:
            if worker is not None:
                worker.close()

    def _attempts(self, index, worker):
        """Runs mini-batch `index` until it succeeds or its attempts are spent; returns the live worker (or None)."""
        request, label = self.plan.requests[index], self.plan.labels[index]
        answer = None
        for attempt in range(1, self.attempts + 1):
            if self.stop.is_set():
                return worker
            if worker is None or not worker.alive():
                try:
                    worker = Worker(self.cfg, self.env)
                    worker.ready()
                except InitFailed as e:
                    with self.lock:
                        self.init_failure = self.init_failure or e
                    self.stop.set()
                    return None
            started = time.monotonic()
            answer = worker.score(request, self.args.timeout)
            if answer.get('fatal_for_worker'):
                worker = None
            if answer['ok']:
                self._record(index, answer, time.monotonic() - started)
                return worker
            retry = attempt < self.attempts
            self.progress.log('mini-batch %d (%s), attempt %d/%d failed: %s%s' % (index + 1, label, attempt, self.attempts, answer['error'],
                                                                                 '; retrying' if retry else ''), 'warning')
            if answer.get('traceback'):
                self.progress.log(answer['traceback'], 'debug')
        self._record(index, answer, None)
        return worker

    def _record(self, index, answer, seconds):
        total = len(self.plan.requests)
        size = self.plan.sizes[index]
        with self.lock:
            if answer['ok']:
                self.succeeded[index] = answer['part']
                missing = size - answer['rows'] if self.script else 0
                if missing > 0:
                    # Azure ML's rule: run() returns one element per item it scored; the others failed.
                    self.items_failed += missing
                    self.notes.append('mini-batch %d (%s): run() returned %d rows for %s; %d counted as failed'
                                      % (index + 1, self.plan.labels[index], answer['rows'], _plural(size, self.plan.unit), missing))
                    self.progress.log(self.notes[-1], 'warning')
            else:
                self.failed[index] = answer['error']
                self.items_failed += size
            done = len(self.succeeded) + len(self.failed)
            if self.args.error_threshold >= 0 and self.items_failed > self.args.error_threshold:
                self.exceeded = True
                self.stop.set()
            if answer['ok']:
                self.progress.log('mini-batch %d/%d done in %.2f s (%s, %s) | %d/%d finished, %d failed'
                                  % (index + 1, total, seconds, self.plan.labels[index], _plural(answer['rows'], 'row'), done, total, len(self.failed)))
            else:
                self.progress.log('mini-batch %d/%d failed after %s | %d/%d finished, %d failed'
                                  % (index + 1, total, _plural(self.attempts, 'attempt'), done, total, len(self.failed)), 'warning')
            self.progress.metrics(self.counters(), done)

    def counters(self):
        return {'mini_batches_total': len(self.plan.requests), 'mini_batches_succeeded': len(self.succeeded),
                'mini_batches_failed': len(self.failed), 'items_total': self.plan.items, 'items_failed': self.items_failed}

    def finish(self):
        """Writes the output and says how it went; returns the exit status. A job failed by the error
        threshold still writes the rows of the mini-batches that succeeded (a partial output)."""
        a, total = self.args, len(self.plan.requests)
        elapsed = time.monotonic() - self.started
        counters = self.counters()
        done = len(self.succeeded) + len(self.failed)
        if self.init_failure is not None:
            self.progress.metrics(counters, done, force=True)
            self.progress.log('the scoring code failed to initialize: %s\n%s' % (self.init_failure, self.init_failure.traceback), 'critical')
            self.progress.log('Batch scoring failed: the scoring code could not initialize (init() or loading the model); nothing was scored.', 'critical')
            self.progress.error('the scoring code could not initialize (init() or loading the model): %s; nothing was scored '
                                '(the traceback is in the log)' % self.init_failure)
            return 1
        failures = ['mini-batch %d (%s): %s' % (i + 1, self.plan.labels[i], self.failed[i]) for i in sorted(self.failed)]
        written = None
        if a.output_action == 'append_row' and (self.succeeded or not self.exceeded):
            os.makedirs(a.output, exist_ok=True)
            written = rows_mod.merge([self.succeeded[i] for i in sorted(self.succeeded)], os.path.join(a.output, a.output_file_name))
            counters['rows_written'] = written
        self.progress.metrics(counters, done, force=True)
        if self.exceeded:
            self._report_failure(failures, written)
            return 1
        failures += self.notes
        if failures:
            self.progress.log('%s failed, within error_threshold %s:\n%s' % (_plural(self.items_failed, 'item'), a.error_threshold,
                                                                            '\n'.join('  ' + f for f in failures)), 'warning')
        self.progress.log('Scored %s (%s) in %.1f s with %s: %d succeeded, %d failed%s.'
                          % (_plural(total, 'mini-batch'), _plural(self.plan.items, self.plan.unit), elapsed, _plural(self.workers(), 'worker'),
                             len(self.succeeded), len(self.failed),
                             '; wrote %s to %s' % (_plural(written, 'row'), a.output_file_name) if written is not None else ' (summary_only: no output file)'),
                          'critical')
        return 0

    def _report_failure(self, failures, written):
        """The threshold was exceeded: every failed mini-batch in the log, the first few in the job's error,
        what was never run, and where the rows that were scored are."""
        a, total = self.args, len(self.plan.requests)
        not_run = [i for i in range(total) if i not in self.succeeded and i not in self.failed]
        head = '%s failed, more than error_threshold %d' % (_plural(self.items_failed, 'item'), a.error_threshold)
        lines = ['Batch scoring failed: %s; stopped after %d of %d mini-batches:' % (head, total - len(not_run), total)]
        lines += ['  ' + f for f in failures + self.notes]
        if not_run:
            lines.append('Not run (the job stopped first): %s' % _ranges(not_run, self.plan.labels))
        if written is not None:
            kept = 'the %s that succeeded (%s) in %s of output score, a partial output' % (
                _plural(len(self.succeeded), 'mini-batch'), _plural(written, 'row'), a.output_file_name)
        elif a.output_action == 'append_row':
            kept = 'nothing: no mini-batch succeeded, so no %s was written' % a.output_file_name
        else:
            kept = 'nothing (output_action summary_only)'
        lines.append('Kept: ' + kept)
        self.progress.log('\n'.join(lines), 'critical')
        shown = failures[:self.ERRORS_SHOWN] + (['(+%d more in the log)' % (len(failures) - self.ERRORS_SHOWN)] if len(failures) > self.ERRORS_SHOWN else [])
        self.progress.error('%s: %s%s. Kept: %s.' % (head, '; '.join(shown) or '; '.join(self.notes),
                                                  '; %s not run' % _plural(len(not_run), 'mini-batch') if not_run else '', kept))

    def cleanup(self):
        shutil.rmtree(self.parts, ignore_errors=True)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    progress = Progress(args.logging_level)
    try:
        plan = Plan(args.data, args.input_type, args.mini_batch_size, table_mod.plan_from_env() if args.input_type == 'mltable' else None)
    except (ValueError, RuntimeError, OSError, ImportError) as e:
        progress.log('Batch scoring failed: %s' % e, 'critical')
        progress.error(str(e))
        return 1
    driver = Driver(args, plan, progress)
    progress.log('%s of %s in %s (mini_batch_size %d) on %s (%d instance(s) x %d); %s with %s'
                 % (_plural(plan.items, plan.unit), args.data, _plural(len(plan.requests), 'mini-batch'), args.mini_batch_size,
                    _plural(driver.workers(), 'worker'), args.instances, args.max_concurrency_per_instance,
                    'scoring script %s' % args.scoring_script if args.scoring_script else 'the MLflow model (no code)',
                    'up to %s of %g s each' % (_plural(driver.attempts, 'attempt'), args.timeout)))
    progress.metrics(driver.counters(), 0, force=True)
    try:
        driver.run()
        return driver.finish()
    finally:
        driver.cleanup()
