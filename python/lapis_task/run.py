"""The command: placeholders bound, started with `bash -c` once per instance, watched until it ends."""
import re
import signal
import socket
import time

from . import procs
from .errors import TaskError

PLACEHOLDER = re.compile(r'\$\{\{\s*(inputs|outputs)\.([^\s}]+)\s*\}\}')


def bind_command(command, inputs, outputs):
    """Replaces ${{inputs.<n>}} and ${{outputs.<n>}} with their bindings, as-is (not shell-quoted,
    like Azure ML: the command may already quote them). Any other ${{...}} is left alone."""
    def replace(m):
        kind, name = m.group(1), m.group(2)
        table = inputs if kind == 'inputs' else outputs
        if name not in table:
            one = kind[:-1]
            raise TaskError('The command uses ${{%s.%s}}, but the job has no %s named %r (its %s: %s). Fix the name in '
                            'the command, or add the %s to the job.' % (kind, name, one, name, kind,
                                                                        ', '.join(sorted(table)) or 'none', one))
        return table[name]

    return PLACEHOLDER.sub(replace, command)


ERROR_FILE_MAX = 4096


def command_error(path):
    """What a failed command wrote to its error file (LAPIS_JOB_ERROR_FILE), at most 4 KiB; None if nothing."""
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            text = f.read(ERROR_FILE_MAX + 1).strip()
    except OSError:
        return None
    return (text[:ERROR_FILE_MAX - 1] + '…' if len(text) > ERROR_FILE_MAX else text) or None


class Outcome:
    def __init__(self, status, exit_code=None, error=None):
        self.status = status  # Completed | Failed | Canceled | Gone
        self.exit_code = exit_code
        self.error = error


class LineSink:
    """Whole lines of one copy of a multi-instance command, so that copies interleave by line; lines
    start with `prefix`. A partial line waits for its end (or for MAX_PARTIAL characters, or flush)."""

    MAX_PARTIAL = 64 * 1024

    def __init__(self, sink, prefix):
        self._sink = sink
        self._prefix = prefix
        self._partial = ''

    def __call__(self, text):
        text = self._partial + text
        cut = text.rfind('\n') + 1
        if len(text) - cut > self.MAX_PARTIAL:
            cut = len(text)
        self._partial = text[cut:]
        self._emit(text[:cut])

    def flush(self):
        partial, self._partial = self._partial, ''
        self._emit(partial + '\n' if partial else '')

    def _emit(self, text):
        if text:
            *lines, rest = text.split('\n')
            self._sink(''.join(self._prefix + line + '\n' for line in lines) + (self._prefix + rest if rest else ''))


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _killed_by(number):
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = 'signal %d' % number
    return 'killed by %s%s' % (name, ', out of memory?' if number == signal.SIGKILL else '')


def _exit_error(code):
    if code < 0:
        return 'the command was %s' % _killed_by(-code)
    if 128 < code < 128 + signal.NSIG:  # how a shell reports a child killed by a signal
        return 'the command exited with code %d (%s)' % (code, _killed_by(code - 128))
    return 'the command exited with code %d' % code


def run_command(command, cwd, env, instance_count, sink, stop_reason, wake, timeout_s=None):
    """Runs the command to its end, a timeout, or until `stop_reason()` names one (checked whenever
    `wake` is set — a command's end sets it — and every 0.1 s); returns an Outcome."""
    count = max(1, int(instance_count or 1))
    groups, sinks = [], []
    base = dict(env)
    if count > 1:
        base.update(WORLD_SIZE=str(count), AZUREML_NODE_COUNT=str(count), MASTER_ADDR='127.0.0.1', MASTER_PORT=str(_free_port()))
    try:
        for rank in range(count):
            copy_env = dict(base, NODE_RANK=str(rank), RANK=str(rank)) if count > 1 else base
            # A single copy passes its output through as it comes (progress bars show live).
            out = LineSink(sink, '[node %d] ' % rank if rank else '') if count > 1 else sink
            sinks.append(out)
            groups.append(procs.Group(['bash', '-c', command], cwd, copy_env, out, on_exit=wake.set))
    except OSError as e:
        procs.stop_groups(groups)
        raise TaskError('Could not start the command with bash: %s. Install bash on this machine.' % e)
    deadline = time.monotonic() + timeout_s if timeout_s else None
    try:
        while True:
            wake.clear()
            codes = [g.poll() for g in groups]
            failed = next((rank for rank, c in enumerate(codes) if c not in (None, 0)), None)
            if failed is not None:
                # One failed copy fails the job; the others would wait for it forever (distributed training).
                procs.stop_groups([g for g, c in zip(groups, codes) if c is None])
                for g in groups:
                    g.finish()
                error = _exit_error(codes[failed]) + (' (node %d)' % failed if count > 1 else '')
                return Outcome('Failed', codes[failed] if codes[failed] > 0 else None, error)
            if all(c == 0 for c in codes):
                for g in groups:
                    g.finish()
                return Outcome('Completed', 0)
            reason = stop_reason()
            if reason:
                procs.stop_groups(groups)
                return Outcome(reason[0], None, reason[1])
            if deadline is not None and time.monotonic() >= deadline:
                procs.stop_groups(groups)
                return Outcome('Failed', None, 'timed out after %s s (limits.timeout)' % _seconds(timeout_s))
            wake.wait(0.1)
    finally:
        # Normally everything has ended here; after an unexpected error nothing may be left running.
        live = [g for g in groups if g.poll() is None or procs.group_alive(g.pgid)]
        if live:
            procs.stop_groups(live)
        for out in sinks:
            if isinstance(out, LineSink):
                out.flush()


def _seconds(value):
    return int(value) if float(value).is_integer() else value
