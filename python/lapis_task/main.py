"""The flow of one attempt: fetch the task, prepare (Preparing), run (Running), upload outputs
(Finalizing), report the result. See docs/task-protocol.md."""
import os
import shutil
import signal
import socket
import sys
import threading
import time
import urllib.parse

from . import env as environments
from . import fetch, outputs as outputs_mod, run
from .api import Api
from .errors import ApiError, Canceled, JobGone, TaskError
from .logs import LogShipper

HEARTBEAT_S = 2.0
REQUIRED = ('LAPIS_URL', 'LAPIS_WORKSPACE', 'LAPIS_JOB', 'LAPIS_ATTEMPT', 'LAPIS_JOB_DIR', 'LAPIS_CACHE_DIR')


class Config:
    def __init__(self, environ):
        missing = [k for k in REQUIRED if not environ.get(k)]
        if missing:
            raise ValueError('missing environment variable%s %s: the executor must set every LAPIS_* variable of '
                             'docs/task-protocol.md.' % ('' if len(missing) == 1 else 's', ', '.join(missing)))
        try:
            self.attempt = int(environ['LAPIS_ATTEMPT'])
        except ValueError:
            raise ValueError('LAPIS_ATTEMPT must be a number, not %r.' % environ['LAPIS_ATTEMPT']) from None
        self.url = environ['LAPIS_URL']
        self.workspace = environ['LAPIS_WORKSPACE']
        self.job = environ['LAPIS_JOB']
        self.token = environ.get('LAPIS_TOKEN') or None
        self.job_dir = os.path.abspath(environ['LAPIS_JOB_DIR'])
        self.cache_dir = os.path.abspath(environ['LAPIS_CACHE_DIR'])
        python = environ.get('LAPIS_PYTHON') or sys.executable
        self.python = os.path.abspath(shutil.which(python) or python)


class Runner:
    def __init__(self, cfg, api):
        self.cfg = cfg
        self.api = api
        # Set on cancel or when the job is gone: stops downloads, builds and the command.
        self.interrupt = threading.Event()
        self.wake = threading.Event()  # wakes the loop watching the command
        self.cancel_reason = None
        self.gone_reason = None
        self.logs = None
        self._heartbeat_stop = threading.Event()

    # ---- talking to the server

    def task_path(self, suffix=''):
        return '/api/v1/jobs/%s/task%s' % (urllib.parse.quote(self.cfg.job, safe=''), suffix)

    def call(self, suffix, body, interrupt=None):
        """POSTs to a task endpoint and honours `cancel_requested`; 404/409 marks the job gone (JobGone)."""
        try:
            answer = self.api.json('POST', self.task_path(suffix), dict(body, attempt=self.cfg.attempt), interrupt=interrupt)
        except JobGone as e:
            self.gone(str(e))
            raise
        if isinstance(answer, dict) and answer.get('cancel_requested'):
            self.cancel('canceled on request')
        return answer

    def status(self, status):
        self.call('/status', {'status': status, 'pid': os.getpid()})

    def post_log(self, stream, seq, text):
        self.call('/logs', {'stream': stream, 'seq': seq, 'text': text})

    def heartbeats(self):
        while not self._heartbeat_stop.wait(HEARTBEAT_S):
            try:
                self.call('/heartbeat', {}, interrupt=self._heartbeat_stop)
            except (JobGone, Canceled):
                return
            except ApiError as e:  # unreachable for the whole retry window: keep the job, keep trying
                sys.stderr.write('[lapis] heartbeat failed: %s\n' % e)

    # ---- stopping

    def cancel(self, reason):
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self.interrupt.set()
        self.wake.set()

    def gone(self, reason):
        if self.gone_reason is None:
            self.gone_reason = reason
        self.interrupt.set()
        self.wake.set()

    def stop_reason(self):
        if self.gone_reason:
            return 'Gone', self.gone_reason
        if self.cancel_reason:
            return 'Canceled', self.cancel_reason
        return None

    def stopped(self):
        return run.Outcome(*(self.stop_reason() or ('Canceled', 'canceled')))

    def check(self):
        if self.interrupt.is_set():
            raise Canceled()

    # ---- the attempt

    def run(self):
        """Returns the runner's exit status."""
        task = self.api.json('GET', self.task_path())
        os.makedirs(os.path.join(self.cfg.job_dir, 'logs'), exist_ok=True)
        self.logs = LogShipper(self.post_log, os.path.join(self.cfg.job_dir, 'logs', 'std_log.txt'))
        outputs = {name: {'hash': None, 'files': []} for name in task.get('outputs') or {}}
        try:
            outcome = self.attempt(task, outputs)
        finally:
            self._heartbeat_stop.set()
            self.logs.close()
        if outcome.status == 'Gone':
            sys.stderr.write('[lapis] stopping without a result: %s\n' % outcome.error)
            return 3
        self.call('/result', {'status': outcome.status, 'exit_code': outcome.exit_code, 'error': outcome.error, 'outputs': outputs})
        return 0

    def attempt(self, task, outputs):
        started = time.monotonic()
        try:
            self.status('Preparing')
            threading.Thread(target=self.heartbeats, name='lapis-heartbeat', daemon=True).start()
            outcome = self.execute(task, outputs)
        except JobGone as e:
            outcome = run.Outcome('Gone', None, str(e))
        except ApiError:
            raise
        except Exception as e:  # a bug in the runner: still report, with the traceback in the job log
            import traceback
            for line in traceback.format_exc().rstrip().split('\n'):
                self.logs.system(line)
            outcome = run.Outcome('Failed', None, 'task runner error: %s: %s (traceback in the job log)' % (type(e).__name__, e))
        if outcome.status != 'Gone':
            self.logs.system('%s after %.1f s%s' % (outcome.status, time.monotonic() - started,
                                                    ': ' + outcome.error if outcome.error else ''))
        return outcome

    def execute(self, task, outputs):
        cfg = self.cfg
        self.logs.system('job %s, attempt %d, on %s (runner pid %d)' % (cfg.job, cfg.attempt, socket.gethostname(), os.getpid()))
        try:
            self.check()
            path_first, venv = environments.prepare(task.get('environment') or {'kind': 'host'}, cfg.cache_dir, cfg.python,
                                                    cfg.job_dir, self.logs, self.interrupt)
            self.check()
            code_dir = fetch.fetch_code(self.api, task.get('code'), cfg.cache_dir, cfg.job_dir, self.logs, self.interrupt)
            inputs = {}
            for name, spec in (task.get('inputs') or {}).items():
                self.check()
                inputs[name] = fetch.fetch_input(self.api, name, spec, cfg.job_dir, self.logs, self.interrupt)
            bound = {name: fetch.make_output(name, spec, cfg.job_dir) for name, spec in (task.get('outputs') or {}).items()}
            command = run.bind_command(task.get('command') or '', inputs, bound)
            self.check()
        except (TaskError, ApiError) as e:
            return run.Outcome('Failed', None, str(e))
        except Canceled:
            return self.stopped()

        self.status('Running')
        if self.interrupt.is_set():
            return self.stopped()
        self.logs.system('$ %s' % command)
        try:
            os.remove(self.error_file())  # an earlier attempt's reason is not this one's
        except FileNotFoundError:
            pass
        outcome = run.run_command(command, code_dir, self.command_env(task, path_first, venv), task.get('instance_count'),
                                  lambda text: self.logs.write('user', text), self.stop_reason, self.wake, task.get('timeout_s'))
        if outcome.status == 'Failed':
            outcome.error = run.command_error(self.error_file()) or outcome.error
        if outcome.status in ('Canceled', 'Gone'):
            return outcome

        self.status('Finalizing')
        try:
            for name in outputs:
                outputs[name] = outputs_mod.upload_output(self.api, name, os.path.join(cfg.job_dir, 'outputs', name),
                                                          self.logs, self.interrupt)
        except TaskError as e:
            if outcome.status == 'Completed':
                return run.Outcome('Failed', outcome.exit_code, str(e))
            self.logs.system(str(e))
        except Canceled:
            return self.stopped()
        return outcome

    def command_env(self, task, path_first, venv):
        env = dict(os.environ)
        env.pop('LAPIS_TOKEN', None)  # the runner's credential; the task passes MLFLOW_TRACKING_TOKEN when needed
        env.pop('VIRTUAL_ENV', None)
        env['PYTHONUNBUFFERED'] = '1'  # live logs from Python commands; the task may override it
        env.update({k: str(v) for k, v in (task.get('environment_variables') or {}).items()})
        env['PATH'] = os.pathsep.join(path_first + [env.get('PATH') or os.defpath])
        if venv:
            env['VIRTUAL_ENV'] = venv
        env['AZUREML_RUN_ID'] = task.get('run_id') or self.cfg.job
        env['LAPIS_JOB'] = self.cfg.job
        env['LAPIS_JOB_ERROR_FILE'] = self.error_file()
        return env

    def error_file(self):
        """Where a failing command may write why it failed: the job's error then says that."""
        return os.path.join(self.cfg.job_dir, 'error.txt')


def main():
    try:
        cfg = Config(os.environ)
    except ValueError as e:
        sys.stderr.write('lapis task runner: %s\n' % e)
        return 2
    runner = Runner(cfg, Api(cfg.url, cfg.workspace, cfg.token))

    def on_signal(signum, _frame):
        # Not inline: cancel() sets Events, whose lock the interrupted main thread may be holding.
        reason = 'canceled: the runner received %s' % signal.Signals(signum).name
        threading.Thread(target=runner.cancel, args=(reason,), daemon=True).start()

    # SIGTERM is how the local executor cancels; Ctrl-C does the same when run by hand.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return runner.run()
    except JobGone as e:
        sys.stderr.write('[lapis] stopping: %s\n' % e)
        return 3
    except ApiError as e:
        sys.stderr.write('[lapis] could not report to the server: %s\n' % e)
        return 1
