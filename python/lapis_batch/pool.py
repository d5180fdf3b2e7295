"""Worker processes for the driver: start one (and wait until its scoring code is initialized), send it
a mini-batch, wait at most the timeout for the answer, and kill it when it overstays or dies."""
import json
import os
import queue
import subprocess
import sys
import threading


class InitFailed(Exception):
    """The scoring code could not initialize (init() raised, or the model would not load): retrying is futile."""

    def __init__(self, error, tb):
        super().__init__(error)
        self.traceback = tb


class Worker:
    def __init__(self, cfg, env):
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        env = dict(env, LAPIS_BATCH_WORKER=json.dumps(cfg), LAPIS_BATCH_PIPES='%d,%d' % (to_worker_r, from_worker_w))
        # Same process group as the driver: canceling the job stops the workers too.
        self.proc = subprocess.Popen([sys.executable, '-m', 'lapis_batch.worker'], env=env, pass_fds=(to_worker_r, from_worker_w))
        os.close(to_worker_r)
        os.close(from_worker_w)
        self._out = os.fdopen(to_worker_w, 'w', encoding='utf-8', buffering=1)
        self._answers = queue.Queue()
        threading.Thread(target=self._read, args=(os.fdopen(from_worker_r, 'r', encoding='utf-8'),), daemon=True).start()

    def _read(self, stream):
        with stream:
            for line in stream:
                self._answers.put(json.loads(line))
        self._answers.put(None)  # the worker is gone

    def ready(self):
        """Waits for the end of the scoring code's initialization; raises InitFailed."""
        answer = self._answers.get()
        if answer is None:
            code = self.proc.wait()
            raise InitFailed('the worker process exited with code %s while initializing' % code, '')
        if not answer.get('ready'):
            self.kill()
            raise InitFailed(answer.get('error', 'init failed'), answer.get('traceback', ''))

    def score(self, request, timeout):
        """The worker's answer ({'ok': True, 'rows', 'part'} or {'ok': False, 'error', 'traceback'}); after
        `timeout` seconds, or if the worker dies, it is killed and the answer says why."""
        try:
            self._out.write(json.dumps(request) + '\n')
        except (BrokenPipeError, OSError):
            pass  # it died: the reader reports that below
        try:
            answer = self._answers.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            return {'ok': False, 'error': 'timed out after %s s (retry_settings.timeout); the worker was killed' % timeout,
                    'fatal_for_worker': True}
        if answer is None:
            code = self.proc.wait()
            return {'ok': False, 'error': 'the worker process exited with code %s while scoring' % code, 'fatal_for_worker': True}
        return answer

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self):
        try:
            self._out.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
