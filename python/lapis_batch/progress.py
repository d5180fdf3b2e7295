"""Progress for the people watching: a log line per mini-batch, and metrics on the job's MLflow run
(posted over the REST API with the standard library: the environment may not have mlflow)."""
import json
import os
import sys
import threading
import time
import urllib.request

LEVELS = {'debug': 10, 'info': 20, 'warning': 30, 'error': 40, 'critical': 50}
_lock = threading.Lock()


class Progress:
    METRICS_EVERY_S = 1.0

    def __init__(self, level, environ=None):
        env = os.environ if environ is None else environ
        self.level = LEVELS.get(level, 20)
        self.uri = (env.get('MLFLOW_TRACKING_URI') or '').rstrip('/')
        self.run_id = env.get('MLFLOW_RUN_ID')
        self.token = env.get('MLFLOW_TRACKING_TOKEN')
        self.error_file = env.get('LAPIS_JOB_ERROR_FILE')
        self._last_post = 0.0
        self._warned = False

    def log(self, message, level='info'):
        if LEVELS[level] < self.level:
            return
        text = ''.join('[batch] %s\n' % line for line in str(message).rstrip('\n').split('\n'))
        with _lock:
            sys.stdout.write(text)
            sys.stdout.flush()

    def error(self, message):
        """The reason the job failed, for the job's error (the task runner reads LAPIS_JOB_ERROR_FILE)."""
        if self.error_file:
            with open(self.error_file, 'w', encoding='utf-8') as f:
                f.write('Batch scoring failed: %s' % message)

    def metrics(self, values, step, force=False):
        """Logs `values` on the run, at most once a second unless `force`; a failure is said once, never fatal."""
        if not self.uri.startswith('http') or not self.run_id:
            return
        now = time.monotonic()
        if not force and now - self._last_post < self.METRICS_EVERY_S:
            return
        self._last_post = now
        stamp = int(time.time() * 1000)
        body = {'run_id': self.run_id, 'metrics': [{'key': k, 'value': float(v), 'timestamp': stamp, 'step': step} for k, v in values.items()]}
        request = urllib.request.Request(self.uri + '/api/2.0/mlflow/runs/log-batch', data=json.dumps(body).encode('utf-8'),
                                         headers={'Content-Type': 'application/json'}, method='POST')
        if self.token:
            request.add_header('Authorization', 'Bearer ' + self.token)
        try:
            urllib.request.urlopen(request, timeout=10).read()
        except Exception as e:
            if not self._warned:
                self._warned = True
                self.log('could not log progress metrics on the run (%s); scoring goes on' % e, 'warning')
