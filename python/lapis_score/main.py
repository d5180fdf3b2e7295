"""Start-up and shutdown: settings from the environment, listen, initialize in the background, and on
SIGTERM stop accepting, let the request in flight finish (at most STOP_GRACE_S) and exit 0."""
import os
import platform
import signal
import sys
import threading
import time

from .log import log
from .mlflow_model import MlflowModel
from .script import ScoringScript
from .server import Host, Server

STOP_GRACE_S = 5.0


class Config:
    def __init__(self, environ):
        self.port = _number(environ, 'LAPIS_SCORE_PORT', None, 1, 65535)
        self.threads = _number(environ, 'LAPIS_SCORE_THREADS', 1, 1, None)
        self.deployment = environ.get('LAPIS_DEPLOYMENT') or 'deployment'
        self.model_dir = environ.get('AZUREML_MODEL_DIR') or None
        script = environ.get('LAPIS_SCORING_SCRIPT') or None
        # Absolute now: initializing a script changes the working directory to the code folder.
        self.script = os.path.abspath(script) if script else None
        code_dir = environ.get('LAPIS_CODE_DIR') or (os.path.dirname(self.script) if script else None)
        self.code_dir = os.path.abspath(code_dir) if code_dir else None
        if not self.script and not self.model_dir:
            raise ValueError('neither LAPIS_SCORING_SCRIPT nor AZUREML_MODEL_DIR is set: the server must name the '
                             'scoring script, or for a no-code deployment the MLflow model\'s folder.')


def _number(environ, name, default, low, high):
    text = environ.get(name) or ''
    if not text and default is not None:
        return default
    if not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
        bounds = 'from %d to %d' % (low, high) if high is not None else 'of at least %d' % low
        raise ValueError('%s must be a whole number %s, not %r.' % (name, bounds, text))
    return int(text)


def main():
    # The deployment's log is read live: every line as soon as it is written, from the host or score.py.
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    # The signal handler only writes to a pipe that the main thread waits on: a handler that took a
    # lock could deadlock against the very code it interrupted.
    wake_read, wake_write = os.pipe()

    def on_signal(signum, _frame):
        os.write(wake_write, bytes([signum]))

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # Ctrl-C when run by hand
    try:
        cfg = Config(os.environ)
    except ValueError as e:
        log('cannot start: %s' % e)
        return 2
    scorer = ScoringScript(cfg.script, cfg.code_dir) if cfg.script else MlflowModel(cfg.model_dir)
    host = Host(scorer, cfg.threads)
    try:
        server = Server(cfg.port, host)
    except OSError as e:
        log('cannot listen on 127.0.0.1:%d: %s' % (cfg.port, e))
        return 1
    threading.Thread(target=server.serve_forever, name='lapis-score-http', daemon=True).start()
    log('%s: listening on http://127.0.0.1:%d (pid %d, Python %s, %d scoring thread%s)'
        % (cfg.deployment, cfg.port, os.getpid(), platform.python_version(), cfg.threads, '' if cfg.threads == 1 else 's'))
    threading.Thread(target=host.initialize, name='lapis-score-init', daemon=True).start()

    signum = os.read(wake_read, 1)[0]
    deadline = time.monotonic() + STOP_GRACE_S  # the server kills the host STOP_GRACE_S after SIGTERM
    log('%s received: stopping' % signal.Signals(signum).name)
    server.shutdown()
    server.server_close()  # new connections are refused from here on
    left = host.drain(max(0.0, deadline - time.monotonic()))
    if left:
        log('%d request%s still running after %.0f s: exiting anyway' % (left, '' if left == 1 else 's', STOP_GRACE_S))
    return 0
