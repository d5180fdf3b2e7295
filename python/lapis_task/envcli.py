"""Builds (or reuses) a deployment's environment: the same cached virtual environment that a job with
that environment gets (env.py does the work). The server runs

    python -I -S <lapis>/python/lapis_task/envcli.py

with LAPIS_CACHE_DIR and LAPIS_PYTHON set as for jobs, and writes a JSON object to its stdin:
{"hash": "<sha256>", "python": "3.11" | null, "pip": [...], "name": "..."}. The build log streams to
stderr; stdout gets one line, {"python": "<the venv's python>", "reused": true | false}. Exit status 1
when the build fails or is canceled by SIGTERM (the error on stderr), 2 for bad input. The contract
is docs/scoring-host.md.
"""
import json
import os
import shutil
import signal
import sys
import threading

if not __package__:
    # Run as a script: import the package from its parent folder, as __main__.py does.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
    sys.path.insert(0, os.path.dirname(_here))

from lapis_task import env as environments  # noqa: E402
from lapis_task.errors import Canceled, TaskError  # noqa: E402


class StderrLogs:
    """The `logs` env.prepare writes to: its own messages and the build output, all on stderr."""

    def system(self, message):
        self.write('system', ''.join('[lapis] %s\n' % line for line in message.rstrip('\n').split('\n')))

    def write(self, _stream, text):
        sys.stderr.write(text)
        sys.stderr.flush()


def main():
    try:
        spec = json.load(sys.stdin)
        if not isinstance(spec, dict) or not isinstance(spec.get('pip') or [], list):
            raise ValueError('expected an object {"hash", "python", "pip": [...], "name"}')
    except ValueError as e:
        sys.stderr.write('lapis envcli: stdin is not a valid environment: %s\n' % e)
        return 2
    cache_dir = os.environ.get('LAPIS_CACHE_DIR')
    if not cache_dir:
        sys.stderr.write('lapis envcli: LAPIS_CACHE_DIR is not set: the server sets it as for jobs.\n')
        return 2
    cache_dir = os.path.abspath(cache_dir)
    python = os.environ.get('LAPIS_PYTHON') or sys.executable
    python = os.path.abspath(shutil.which(python) or python)

    interrupt = threading.Event()
    # Set from another thread: Event.set() in the handler could deadlock against the main thread,
    # which the handler interrupts, holding the event's lock inside interrupt.wait().
    signal.signal(signal.SIGTERM, lambda _s, _f: threading.Thread(target=interrupt.set).start())

    digest = spec.get('hash') or ''
    reused = os.path.exists(os.path.join(cache_dir, 'envs', digest, environments.READY))
    try:
        _path, root = environments.prepare(dict(spec, kind='venv'), cache_dir, python, None, StderrLogs(), interrupt)
    except TaskError as e:
        sys.stderr.write('%s\n' % e)
        return 1
    except Canceled:
        sys.stderr.write('lapis envcli: canceled by SIGTERM while building environment %s.\n' % (spec.get('name') or digest))
        return 1
    sys.stdout.write(json.dumps({'python': os.path.join(root, 'bin', 'python'), 'reused': reused}) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
