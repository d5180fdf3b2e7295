"""Child processes in their own session, their merged output pumped to a callback, stopped as a group."""
import codecs
import os
import signal
import subprocess
import threading
import time

GRACE_S = 1.5


class Group:
    """`argv` started as the leader of a new process group; `sink(text)` gets its stdout+stderr as it comes."""

    def __init__(self, argv, cwd, env, sink, on_exit=None):
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pgid = self.proc.pid
        self._reader = threading.Thread(target=self._pump, args=(sink, on_exit), name='lapis-output', daemon=True)
        self._reader.start()

    def _pump(self, sink, on_exit):
        # Raw reads, not lines: progress bars without a newline still show up promptly.
        decoder = codecs.getincrementaldecoder('utf-8')('replace')
        fd = self.proc.stdout.fileno()
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            sink(decoder.decode(data))
        sink(decoder.decode(b'', final=True))
        self.proc.stdout.close()
        if on_exit:
            # The output ends when the command does (unless a child it left holds the pipe): tell the
            # watcher at once instead of at its next poll.
            try:
                self.proc.wait(1.0)
            except subprocess.TimeoutExpired:
                pass
            on_exit()

    def poll(self):
        return self.proc.poll()

    def finish(self, timeout=5.0):
        """After the leader exited: stops what it left running in its group, then waits for the output to end."""
        if group_alive(self.pgid):
            stop_groups([self])
        self.proc.wait()
        self.join_output(timeout)

    def join_output(self, timeout=5.0):
        # A process that left the group (setsid) may hold the pipe open forever: do not wait for it.
        self._reader.join(timeout)


def stop_groups(groups, grace=GRACE_S):
    """SIGTERM to every group, SIGKILL to those still alive `grace` seconds later; waits for the output."""
    for g in groups:
        _signal(g.pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    left = list(groups)
    while left and time.monotonic() < deadline:
        for g in left:
            g.proc.poll()  # reap the leader, or it counts as alive
        left = [g for g in left if group_alive(g.pgid)]
        if left:
            time.sleep(0.05)
    for g in left:
        _signal(g.pgid, signal.SIGKILL)
    for g in groups:
        g.proc.wait()
        g.join_output()


def _signal(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid):
    """Whether a process of the group still runs. Zombies do not count: orphans are reaped by
    init, which in some containers takes seconds, and they are dead already."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        pids = [p for p in os.listdir('/proc') if p.isdigit()]
    except OSError:
        return True  # no /proc (macOS): trust kill(0)
    for pid in pids:
        try:
            with open('/proc/%s/stat' % pid, 'rb') as f:
                stat = f.read()
        except OSError:
            continue
        # After "pid (comm) ": state, ppid, pgrp, ... (comm may hold spaces and parentheses).
        fields = stat[stat.rfind(b')') + 2:].split()
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] != b'Z':
            return True
    return False
