"""The whole runner, started as executors start it, against the in-process protocol stub."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from lapis_task.procs import group_alive

from .protocol_stub import ProtocolStub, stub_manifest_hash

RUNNER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lapis_task', '__main__.py')

MAIN_PY = b'''import os, sys
print("hello from the job")
print("to stderr", file=sys.stderr)
with open(sys.argv[1]) as f:
    data = f.read()
with open(os.path.join(sys.argv[2], "upper.txt"), "w") as f:
    f.write(data.upper())
print("EPOCHS=" + os.environ["EPOCHS"] + " token=" + os.environ.get("LAPIS_TOKEN", "-"))
'''


class RunnerTest(unittest.TestCase):
    def setUp(self):
        self.stub = ProtocolStub().start()
        self.addCleanup(self.stub.stop)
        self.root = tempfile.mkdtemp(prefix='lapis-task-test-')
        self.addCleanup(self.remove_root)
        self.cache = os.path.join(self.root, 'cache')
        self.runs = 0

    def remove_root(self):
        for folder, dirs, _ in os.walk(self.root):  # ro_mount inputs are read-only
            for d in dirs:
                os.chmod(os.path.join(folder, d), 0o755)
        shutil.rmtree(self.root)

    def task(self, command, **overrides):
        code_hash, code_files = self.stub.add_content({'main.py': MAIN_PY})
        task = {
            'job': self.stub.job, 'workspace': self.stub.workspace, 'attempt': 1, 'run_id': self.stub.job,
            'experiment_id': '1', 'tracking_uri': self.stub.url, 'command': command,
            'code': {'hash': code_hash, 'registry': None, 'files': code_files},
            'environment': {'kind': 'host', 'name': 'host-env', 'note': None},
            'environment_variables': {'EPOCHS': '3'}, 'inputs': {}, 'outputs': {}, 'timeout_s': None, 'instance_count': 1,
        }
        task.update(overrides)
        return task

    def start(self, task):
        self.runs += 1
        self.job_dir = os.path.join(self.root, 'job%d' % self.runs)
        os.makedirs(self.job_dir)
        self.stub.task = task
        self.stub.results.clear()
        self.stub.statuses.clear()
        self.stub.logs.clear()
        env = dict(os.environ, LAPIS_URL=self.stub.url, LAPIS_WORKSPACE=self.stub.workspace, LAPIS_JOB=self.stub.job,
                   LAPIS_ATTEMPT='1', LAPIS_TOKEN=self.stub.token, LAPIS_JOB_DIR=self.job_dir, LAPIS_CACHE_DIR=self.cache,
                   LAPIS_PYTHON=sys.executable)
        proc = subprocess.Popen([sys.executable, '-I', '-S', RUNNER], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc

    def finish(self, proc, timeout=20):
        out = proc.communicate(timeout=timeout)[0].decode()
        self.assertEqual(proc.returncode, 0, out)
        return self.stub.wait_for_result(0)

    def statuses(self):
        return [b['status'] for _, b in self.stub.statuses]

    def test_runs_a_job_end_to_end(self):
        iris_hash, iris_files = self.stub.add_content({'iris.csv': b'a,b\n1,2\n'})
        self.stub.models[('net', '2')] = {'w/a.bin': b'W8\n'}
        self.stub.public['notes.txt'] = b'from the web\n'
        command = ('python main.py ${{inputs.data}} ${{outputs.model}} && cat ${{inputs.weights}}/w/a.bin ${{inputs.page}} '
                   '&& echo direct=${{inputs.remote}}')
        task = self.task(command, inputs={
            'data': {'type': 'uri_file', 'mode': 'ro_mount', 'uri': 'azureml:iris:1',
                     'source': {'kind': 'content', 'hash': iris_hash, 'registry': None, 'files': iris_files}},
            'weights': {'type': 'custom_model', 'mode': 'download', 'uri': 'azureml:net:2',
                        'source': {'kind': 'model', 'name': 'net', 'version': '2', 'registry': None, 'files': [{'path': 'w/a.bin', 'size': 3}]}},
            'page': {'type': 'uri_file', 'mode': 'download', 'uri': self.stub.url + '/public/notes.txt',
                     'source': {'kind': 'url', 'url': self.stub.url + '/public/notes.txt'}},
            'remote': {'type': 'uri_folder', 'mode': 'direct', 'uri': 'https://example.com/data/',
                       'source': {'kind': 'url', 'url': 'https://example.com/data/'}},
        }, outputs={'model': {'type': 'uri_folder', 'mode': 'rw_mount'}, 'unused': {'type': 'uri_folder', 'mode': 'upload'}})
        result = self.finish(self.start(task))

        self.assertEqual(self.statuses(), ['Preparing', 'Running', 'Finalizing'])
        self.assertTrue(all(b['pid'] > 0 and b['attempt'] == 1 for _, b in self.stub.statuses))
        self.assertEqual((result['status'], result['exit_code'], result['error']), ('Completed', 0, None))
        self.assertEqual(self.stub.refused, [])

        user = self.stub.log_text('user')
        self.assertIn('hello from the job\n', user)
        self.assertIn('to stderr\n', user)
        self.assertIn('EPOCHS=3 token=-\n', user)  # the runner's token is not passed on
        self.assertIn('W8\nfrom the web\ndirect=https://example.com/data/\n', user)
        self.assertTrue(self.stub.public_requests)
        self.assertFalse(any(k.lower() in ('authorization', 'x-lapis-workspace') for h in self.stub.public_requests for k in h))
        with open(os.path.join(self.job_dir, 'logs', 'std_log.txt')) as f:
            self.assertEqual(f.read(), user)
        system = self.stub.log_text('system')
        self.assertTrue(all(line.startswith('[lapis] ') for line in system.splitlines()), system)
        self.assertIn('input data (azureml:iris:1): 1 file', system)
        self.assertEqual(sorted(b['seq'] for b in self.stub.logs), list(range(1, len(self.stub.logs) + 1)))

        upper = b'A,B\n1,2\n'
        model = result['outputs']['model']
        self.assertEqual(model['files'], [{'path': 'upper.txt', 'sha256': hashlib.sha256(upper).hexdigest(), 'size': len(upper)}])
        self.assertEqual(model['hash'], stub_manifest_hash(model['files']))
        self.assertEqual(self.stub.content[model['hash']], {'upper.txt': upper})
        self.assertEqual(result['outputs']['unused'], {'hash': None, 'files': []})

        data = os.path.join(self.job_dir, 'inputs', 'data', 'iris.csv')
        self.assertEqual(os.stat(data).st_mode & 0o777, 0o444)
        self.assertEqual(os.stat(os.path.dirname(data)).st_mode & 0o777, 0o555)
        self.assertTrue(os.path.isfile(os.path.join(self.cache, 'code', task['code']['hash'], 'main.py')))

        # The same outputs again: the server holds them, so nothing is uploaded a second time.
        self.stub.staged.clear()
        result = self.finish(self.start(task))
        self.assertEqual(result['outputs']['model']['hash'], model['hash'])
        self.assertEqual(self.stub.staged, {})
        self.assertIn('reusing stored content', self.stub.log_text('system'))

    def test_a_failing_command_fails_the_job(self):
        result = self.finish(self.start(self.task('echo before; exit 3')))
        self.assertEqual((result['status'], result['exit_code'], result['error']), ('Failed', 3, 'the command exited with code 3'))
        self.assertEqual(self.statuses(), ['Preparing', 'Running', 'Finalizing'])
        self.assertEqual(self.stub.log_text('user'), 'before\n')

    def test_a_failing_command_can_say_why_in_its_error_file(self):
        result = self.finish(self.start(self.task('printf "  3 rows were bad\\n" > "$LAPIS_JOB_ERROR_FILE"; exit 1')))
        self.assertEqual((result['status'], result['exit_code'], result['error']), ('Failed', 1, '3 rows were bad'))
        # A command that succeeds has no error, whatever the file says.
        result = self.finish(self.start(self.task('echo ignored > "$LAPIS_JOB_ERROR_FILE"')))
        self.assertEqual((result['status'], result['error']), ('Completed', None))

    def test_timeout_kills_the_process_group(self):
        started = time.monotonic()
        result = self.finish(self.start(self.task('echo $$ > pgid.txt; sleep 30', timeout_s=1)))
        self.assertLess(time.monotonic() - started, 3.5)
        self.assertEqual((result['status'], result['exit_code'], result['error']), ('Failed', None, 'timed out after 1 s (limits.timeout)'))
        with open(os.path.join(self.job_dir, 'code', 'pgid.txt')) as f:
            self.assertFalse(group_alive(int(f.read())))

    def test_cancel_requested_by_heartbeat(self):
        self.stub.cancel_when_running = True
        started = time.monotonic()
        result = self.finish(self.start(self.task('sleep 30')))
        asked = next(t for t, cancel in self.stub.heartbeats if cancel)
        self.assertLess(self.stub.results[0][0] - asked, 2.0)
        self.assertLess(time.monotonic() - started, 6)
        self.assertEqual((result['status'], result['exit_code'], result['error']), ('Canceled', None, 'canceled on request'))
        self.assertEqual(self.statuses(), ['Preparing', 'Running'])

    def test_sigterm_cancels(self):
        proc = self.start(self.task('echo started; sleep 30'))
        deadline = time.monotonic() + 10
        while 'started' not in self.stub.log_text('user') and time.monotonic() < deadline:
            time.sleep(0.02)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        result = self.finish(proc)
        self.assertLess(time.monotonic() - sent, 2.0)
        self.assertEqual(result['status'], 'Canceled')
        self.assertIn('SIGTERM', result['error'])

    def test_a_stale_attempt_stops_the_runner_without_a_result(self):
        self.stub.gone_on_heartbeat = True
        proc = self.start(self.task('echo $$ > pgid.txt; sleep 30'))
        out = proc.communicate(timeout=10)[0].decode()
        self.assertEqual(proc.returncode, 3, out)
        self.assertEqual(self.stub.results, [])
        with open(os.path.join(self.job_dir, 'code', 'pgid.txt')) as f:
            self.assertFalse(group_alive(int(f.read())))

    def test_venv_is_built_once_then_reused(self):
        version = '%d.%d' % sys.version_info[:2]
        env = {'kind': 'venv', 'hash': 'e' * 64, 'python': '>=3.9,<4', 'pip': [], 'name': 'empty-env', 'note': None}
        task = self.task('python -c "import sys; print(sys.prefix)"', environment=env)
        result = self.finish(self.start(task), timeout=60)
        self.assertEqual(result['status'], 'Completed', result)
        root = os.path.join(self.cache, 'envs', 'e' * 64)
        self.assertEqual(self.stub.log_text('user').strip(), root)
        self.assertIn('-m venv --without-pip', self.stub.log_text('build'))
        self.assertTrue(os.path.isfile(os.path.join(root, 'build.log')))
        with open(os.path.join(root, '.lapis-ready')) as f:
            self.assertEqual(json.load(f)['version'][:len(version)], version)
        ready_at = os.stat(os.path.join(root, '.lapis-ready')).st_mtime_ns

        result = self.finish(self.start(task))
        self.assertEqual(result['status'], 'Completed')
        self.assertEqual(self.stub.log_text('build'), '')
        self.assertIn('reused cached venv', self.stub.log_text('system'))
        self.assertEqual(os.stat(os.path.join(root, '.lapis-ready')).st_mtime_ns, ready_at)
        (preparing, _), (running, _) = self.stub.statuses[:2]
        self.assertLess(running - preparing, 0.5)

    def test_no_matching_interpreter_fails_with_the_fix(self):
        env = {'kind': 'venv', 'hash': 'f' * 64, 'python': '<3.0', 'pip': [], 'name': 'ancient', 'note': None}
        result = self.finish(self.start(self.task('true', environment=env)))
        self.assertEqual(result['status'], 'Failed')
        self.assertIn("No Python interpreter satisfies python '<3.0' of environment ancient", result['error'])
        self.assertIn('LAPIS_PYTHON %s' % sys.executable, result['error'])
        self.assertIn('Fix: install a matching Python', result['error'])
        self.assertEqual(self.statuses(), ['Preparing'])
        self.assertFalse(os.path.exists(os.path.join(self.cache, 'envs', 'f' * 64)))


if __name__ == '__main__':
    unittest.main()
