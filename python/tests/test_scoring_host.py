"""The scoring host, started as the server starts it (a subprocess on a free loopback port), against a
real scikit-learn MLflow model and against scoring scripts; plus its pure parts."""
import contextlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

from lapis_score import payloads
from lapis_score.errors import BadRequest
from lapis_score.script import to_body
from lapis_score.server import FRAMES_MAGIC

HOST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lapis_score', '__main__.py')
COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']
ROWS = [[5.1, 3.5, 1.4, 0.2], [4.9, 3.0, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [5.9, 3.0, 5.1, 1.8], [6.3, 3.3, 6.0, 2.5],
        [5.8, 2.7, 5.1, 1.9]]
LABELS = [0, 0, 1, 2, 2, 2]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Host:
    """One scoring host process; its output goes to a file, so a full pipe can never block it."""

    def __init__(self, test_case, root, **env):
        self.port = free_port()
        self.log_path = os.path.join(root, 'host-%d.log' % self.port)
        with open(self.log_path, 'wb') as log:
            self.proc = subprocess.Popen([sys.executable, HOST], stdout=log, stderr=subprocess.STDOUT,
                                         env=dict(os.environ, LAPIS_SCORE_PORT=str(self.port), **env))
        if isinstance(test_case, type):  # started by setUpClass
            test_case.addClassCleanup(self.kill)
        else:
            test_case.addCleanup(self.kill)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def request(self, method, path, body=None, headers=None, chunked=False):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
            res = conn.getresponse()
            return res.status, res.getheader('Content-Type'), res.read()
        finally:
            conn.close()

    def frames(self, *bodies):
        """/score requests as the router sends them: frames, one after another on one connection."""
        answers = []
        with socket.create_connection(('127.0.0.1', self.port), timeout=30) as conn:
            conn.sendall(FRAMES_MAGIC)
            reader = conn.makefile('rb')
            for body in bodies:
                body = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else json.dumps(body).encode()
                conn.sendall(struct.pack('>IH', len(body), 16) + b'application/json' + body)
                status, length = struct.unpack('>HI', reader.read(6))
                answers.append((status, json.loads(reader.read(length))))
        return answers

    def json(self, method, path, body=None, **kw):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        status, content_type, data = self.request(method, path, body, **kw)
        return status, json.loads(data)

    def wait(self, path, predicate, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, answer = self.json('GET', path)
                if predicate(status, answer):
                    return status, answer
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError('%s never answered as expected; host output:\n%s' % (path, self.output()))
            time.sleep(0.05)

    def wait_ready(self, timeout=60):
        status, answer = self.wait('/ready', lambda status, answer: status == 200 or answer['error'], timeout)
        if status != 200:
            raise AssertionError('the host failed to initialize:\n%s' % answer['error'])

    def output(self):
        with open(self.log_path, encoding='utf-8', errors='replace') as f:
            return f.read()


class MlflowModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            import mlflow.sklearn
            import pandas as pd
            from mlflow.models import infer_signature
            from sklearn.linear_model import LogisticRegression
        except ImportError as e:
            raise unittest.SkipTest('needs mlflow, pandas and scikit-learn (the test venv): %s' % e)
        cls.root = tempfile.mkdtemp(prefix='lapis-score-test-')
        cls.addClassCleanup(shutil.rmtree, cls.root)
        frame = pd.DataFrame(ROWS, columns=COLUMNS)
        model = LogisticRegression(max_iter=1000).fit(frame, LABELS)
        cls.model_dir = os.path.join(cls.root, 'model')
        # Explicit requirements: inferring them would load the model again in a subprocess (seconds).
        mlflow.sklearn.save_model(model, cls.model_dir, signature=infer_signature(frame, model.predict(frame)),
                                  pip_requirements=['scikit-learn'])
        cls.expected = model.predict(frame).tolist()
        cls.host = Host(cls, cls.root, AZUREML_MODEL_DIR=cls.model_dir, LAPIS_DEPLOYMENT='iris/blue')
        cls.host.wait_ready()

    def score(self, body, **kw):
        return self.host.json('POST', '/score', body, headers={'Content-Type': 'application/json'}, **kw)

    def test_live_ready_and_unknown_paths(self):
        self.assertEqual(self.host.json('GET', '/live'), (200, {'live': True}))
        self.assertEqual(self.host.json('GET', '/ready'), (200, {'ready': True}))
        status, answer = self.host.json('GET', '/predict')
        self.assertEqual(status, 404)
        self.assertIn('POST /score', answer['error'])
        output = self.host.output()
        self.assertIn('[lapis-score] iris/blue: listening on http://127.0.0.1:%d' % self.host.port, output)
        self.assertTrue(all(line.startswith('[lapis-score] ') for line in output.splitlines()), output)

    def test_azure_ml_shapes_answer_the_predictions(self):
        split = {'columns': COLUMNS, 'index': list(range(len(ROWS))), 'data': ROWS}
        named = {c: [row[i] for row in ROWS] for i, c in enumerate(COLUMNS)}
        for input_data in (split, ROWS, named):
            status, content_type, data = self.host.request('POST', '/score', json.dumps({'input_data': input_data}))
            self.assertEqual((status, content_type), (200, 'application/json'), data)
            self.assertEqual(json.loads(data), self.expected)

    def test_mlflow_shapes_answer_predictions_wrapped(self):
        records = [dict(zip(COLUMNS, row)) for row in ROWS]
        for body in ({'dataframe_split': {'columns': COLUMNS, 'data': ROWS}}, {'dataframe_records': records},
                     {'instances': records}, {'inputs': {c: [row[i] for row in ROWS] for i, c in enumerate(COLUMNS)}}):
            self.assertEqual(self.score(body), (200, {'predictions': self.expected}), body)

    def test_frames_answer_as_http_does(self):
        bodies = [{'input_data': {'columns': COLUMNS, 'index': [0, 1], 'data': ROWS[:2]}},
                  {'dataframe_split': {'columns': COLUMNS, 'data': ROWS}}, b'not json',
                  {'dataframe_split': {'columns': ['sepal_lenght'] + COLUMNS[1:], 'data': ROWS}}]
        answers = self.host.frames(*bodies)
        self.assertEqual(answers[:2], [(200, self.expected[:2]), (200, {'predictions': self.expected})])
        self.assertEqual([status for status, _ in answers[2:]], [400, 400])
        self.assertEqual(answers, [self.score(body) for body in bodies])

    def test_a_chunked_body_is_read(self):
        self.assertEqual(self.score(iter([b'{"input_data": ', json.dumps(ROWS[:1]).encode(), b'}']), chunked=True),
                         (200, self.expected[:1]))

    def test_a_wrong_column_is_400_naming_it(self):
        status, answer = self.score({'dataframe_split': {'columns': ['sepal_lenght'] + COLUMNS[1:], 'data': ROWS}})
        self.assertEqual(status, 400)
        self.assertIn("missing inputs ['sepal_length']", answer['error'])
        self.assertIn("extra inputs: ['sepal_lenght']", answer['error'])

    def test_bad_bodies_are_400_saying_what_to_send(self):
        for body, expected in ((b'not json', 'The body is not JSON'), (b'\xff\xfe{', 'The body is not JSON'),
                               ('[1, 2]', 'The body is a list, not a JSON object'),
                               ('{"rows": []}', 'The body has "rows", none of which this deployment reads'),
                               ('{"inputs": [], "instances": []}', 'send only one of them'),
                               ('{"input_data": [[5.1, 3.5]]}', '"input_data"[0] has 2 values but the model\'s signature has 4 columns'),
                               ('{"input_data": 3}', '"input_data" is a number'),
                               ('{"dataframe_split": {"columns": %s, "data": [["x", 1, 2, 3]]}}' % json.dumps(COLUMNS),
                                'Failed to convert column sepal_length')):
            status, answer = self.score(body)
            self.assertEqual(status, 400, body)
            self.assertIn(expected, answer['error'])
        self.assertIn('"input_data": ...', self.score(b'nope')[1]['error'])  # the message says what works

    def test_mlflow_parsing_without_its_scoring_server(self):
        """The path for older MLflow and mlflow-skinny 2.x: the same answers, in process."""
        from lapis_score.mlflow_model import MlflowModel

        model = MlflowModel(self.model_dir)
        with contextlib.redirect_stderr(io.StringIO()):
            model.initialize()
        model._parse_json = None
        records = [dict(zip(COLUMNS, row)) for row in ROWS]
        self.assertEqual(json.loads(model.score(json.dumps({'dataframe_records': records}).encode())), {'predictions': self.expected})
        self.assertEqual(json.loads(model.score(json.dumps({'input_data': ROWS}).encode())), self.expected)
        with self.assertRaises(BadRequest) as caught:
            model.score(b'{"dataframe_split": {"columns": ["petal"], "data": [[1]]}}')
        self.assertIn("missing inputs", str(caught.exception))
        with self.assertRaises(BadRequest) as caught:
            model.score(b'{"rows": []}')
        self.assertIn('none of which this deployment reads', str(caught.exception))


SCORE_DICT = '''
import json, os
import helper

def init():
    global greeting
    with open("greeting.txt") as f:  # relative: the code folder is the working directory
        greeting = f.read().strip()
    print("init: model dir " + os.environ["AZUREML_MODEL_DIR"])

def run(raw_data):
    if raw_data == "fail":
        raise ValueError("cannot score 'fail'")
    if raw_data == "text":
        return "plain text"
    if raw_data == "slow":
        print("slow request started", flush=True)
        helper.time.sleep(1.0)
    return {"greeting": greeting, "double": helper.double(len(raw_data)), "raw": raw_data}
'''
SCORE_NUMPY = '''
import numpy as np

def init():
    pass

def run(raw_data):
    return np.arange(4).reshape(2, 2) * 1.5
'''
SCORE_BROKEN = '''
def init():
    raise FileNotFoundError("weights.bin is missing from the model folder")

def run(raw_data):
    return raw_data
'''


class ScoringScriptTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix='lapis-score-test-')
        self.addCleanup(shutil.rmtree, self.root)

    def start(self, source, **env):
        code = os.path.join(self.root, 'code%d' % len(os.listdir(self.root)))
        os.makedirs(code)
        files = {'score.py': source, 'helper.py': 'import time\n\ndef double(n):\n    return 2 * n\n', 'greeting.txt': 'hello\n'}
        for name, text in files.items():
            with open(os.path.join(code, name), 'w') as f:
                f.write(textwrap.dedent(text))
        return Host(self, self.root, LAPIS_SCORING_SCRIPT=os.path.join(code, 'score.py'), LAPIS_CODE_DIR=code,
                    AZUREML_MODEL_DIR=self.root, **env)

    def test_run_answers_json_text_and_errors(self):
        host = self.start(SCORE_DICT)
        host.wait_ready()
        self.assertEqual(host.json('POST', '/score', '{"a": 1}'), (200, {'greeting': 'hello', 'double': 16, 'raw': '{"a": 1}'}))
        self.assertEqual(host.request('POST', '/score', 'text')[::2], (200, b'plain text'))
        status, answer = host.json('POST', '/score', 'fail')
        self.assertEqual(status, 500)
        self.assertEqual(answer['error'], "ValueError: cannot score 'fail'")
        self.assertIn('Traceback', answer['traceback'])
        self.assertIn('score.py', answer['traceback'])
        status, answer = host.json('POST', '/score', b'\xff')
        self.assertEqual(status, 400)
        self.assertIn('not UTF-8', answer['error'])
        status, answer = host.frames('fail')[0]
        self.assertEqual((status, answer['error']), (500, "ValueError: cannot score 'fail'"))
        output = host.output()
        self.assertIn('init: model dir %s\n' % self.root, output)  # score.py's own lines are not prefixed
        self.assertIn("[lapis-score] POST /score 500", output)

    def test_a_numpy_answer_becomes_json(self):
        try:
            import numpy  # noqa: F401 - the host imports it in score.py, from this same interpreter
        except ImportError as e:
            raise unittest.SkipTest('needs numpy: %s' % e)
        host = self.start(SCORE_NUMPY)
        host.wait_ready()
        self.assertEqual(host.json('POST', '/score', '{}'), (200, [[0.0, 1.5], [3.0, 4.5]]))

    def test_a_failed_init_is_reported_and_the_host_stays_up(self):
        host = self.start(SCORE_BROKEN)
        status, answer = host.wait('/ready', lambda _, answer: answer['error'] is not None)
        self.assertEqual(status, 503)
        self.assertFalse(answer['ready'])
        self.assertIn('Traceback', answer['error'])
        self.assertIn('FileNotFoundError: weights.bin is missing from the model folder', answer['error'])
        self.assertEqual(host.json('GET', '/live'), (200, {'live': True}))
        for status, answer in (host.json('POST', '/score', '{}'), host.frames({})[0]):
            self.assertEqual(status, 503)
            self.assertIn('failed to initialize (FileNotFoundError: weights.bin is missing', answer['error'])
        time.sleep(0.2)
        self.assertIsNone(host.proc.poll())
        self.assertIn('[lapis-score] initialization failed', host.output())

    def test_sigterm_finishes_the_request_in_flight_then_exits_0(self):
        host = self.start(SCORE_DICT)
        host.wait_ready()
        answers = []
        slow = threading.Thread(target=lambda: answers.append(host.json('POST', '/score', 'slow')))
        slow.start()
        deadline = time.monotonic() + 10
        while 'slow request started' not in host.output() and time.monotonic() < deadline:
            time.sleep(0.02)
        # One scoring thread is busy, yet liveness still answers at once.
        started = time.monotonic()
        self.assertEqual(host.json('GET', '/live'), (200, {'live': True}))
        self.assertLess(time.monotonic() - started, 0.5)
        host.proc.send_signal(signal.SIGTERM)
        self.assertEqual(host.proc.wait(timeout=6), 0)
        slow.join(5)
        self.assertEqual(answers, [(200, {'greeting': 'hello', 'double': 8, 'raw': 'slow'})])
        self.assertIn('[lapis-score] SIGTERM received: stopping', host.output())
        with self.assertRaises(ConnectionRefusedError):
            host.request('GET', '/live')

    def test_sigterm_sends_a_framed_answer_in_flight_before_exiting(self):
        host = self.start(SCORE_DICT)
        host.wait_ready()
        answers = []
        slow = threading.Thread(target=lambda: answers.extend(host.frames('slow')))
        slow.start()
        deadline = time.monotonic() + 10
        while 'slow request started' not in host.output() and time.monotonic() < deadline:
            time.sleep(0.02)
        host.proc.send_signal(signal.SIGTERM)
        self.assertEqual(host.proc.wait(timeout=6), 0)
        slow.join(5)
        self.assertEqual(answers, [(200, {'greeting': 'hello', 'double': 8, 'raw': 'slow'})])

    def test_missing_settings_exit_2(self):
        proc = subprocess.run([sys.executable, HOST], env=dict(os.environ, LAPIS_SCORE_PORT='x'), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"[lapis-score] cannot start: LAPIS_SCORE_PORT must be a whole number from 1 to 65535, not 'x'", proc.stdout)


class PayloadsTest(unittest.TestCase):
    def test_azure_shapes_become_mlflow_shapes(self):
        split = {'columns': ['a', 'b'], 'index': [0], 'data': [[1, 2]]}
        self.assertEqual(payloads.from_azure({'input_data': split, 'params': {'k': 1}}, None),
                         {'dataframe_split': split, 'params': {'k': 1}})
        self.assertEqual(payloads.from_azure({'input_data': [[1, 2]]}, ['a', 'b']),
                         {'dataframe_split': {'columns': ['a', 'b'], 'data': [[1, 2]]}})
        self.assertEqual(payloads.from_azure({'input_data': [[1, 2]]}, None), {'inputs': [[1, 2]]})
        self.assertEqual(payloads.from_azure({'input_data': ['x', 'y']}, ['text']),
                         {'dataframe_split': {'columns': ['text'], 'data': [['x'], ['y']]}})
        self.assertEqual(payloads.from_azure({'input_data': {'data': [[1]]}}, None), {'inputs': {'data': [[1]]}})

    def test_unusable_bodies_say_what_to_send(self):
        for body, columns, expected in (({'input_data': [], 'extra': 1}, None, '"extra" next to "input_data"'),
                                        ({'input_data': [1, 2]}, ['a', 'b'], '"input_data"[0] is a number, not a row'),
                                        ({'input_data': {}}, None, '"input_data" is an empty object')):
            with self.assertRaises(BadRequest) as caught:
                payloads.from_azure(body, columns)
            self.assertIn(expected, str(caught.exception))
            self.assertIn('Send ', str(caught.exception))


class ToBodyTest(unittest.TestCase):
    def test_values_run_returns(self):
        self.assertEqual(to_body('{"a": 1}'), b'{"a": 1}')
        self.assertEqual(to_body(b'\x00'), b'\x00')
        self.assertEqual(to_body({'a': [1, None]}), b'{"a": [1, null]}')
        with self.assertRaises(TypeError) as caught:
            to_body({'when': object()})
        self.assertIn('run() returned a value that cannot be sent as JSON', str(caught.exception))

    def test_numpy_and_pandas_values(self):
        try:
            import numpy as np
            import pandas as pd
        except ImportError as e:
            raise unittest.SkipTest('needs numpy and pandas: %s' % e)
        frame = pd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})
        self.assertEqual(json.loads(to_body({'frame': frame, 'series': frame['a'], 'n': np.int64(3), 'f': np.float32(0.5)})),
                         {'frame': [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'y'}], 'series': [1, 2], 'n': 3, 'f': 0.5})


if __name__ == '__main__':
    unittest.main()
