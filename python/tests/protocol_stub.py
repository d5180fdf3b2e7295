"""A protocol stub: a tiny in-process HTTP server speaking the runner's side of docs/task-protocol.md.

It is NOT the Lapis server (that one is tested end to end by the TypeScript integration tests): it
serves one task, records what the runner reports, stores content in memory, and checks the
bearer token, the workspace header and the attempt on every call.
"""
import hashlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def stub_manifest_hash(files):
    """The manifest hash written out independently of the runner's (ASCII paths only)."""
    lines = ''.join('%s\0%s\0%d\n' % (f['path'], f['sha256'], f['size']) for f in sorted(files, key=lambda f: f['path']))
    return hashlib.sha256(lines.encode()).hexdigest()


class ProtocolStub:
    def __init__(self, job='sharp_kiwi_test', workspace='ws1', token='secret-token', attempt=1):
        self.job, self.workspace, self.token, self.attempt = job, workspace, token, attempt
        self.task = None
        self.content = {}  # committed: hash -> {path: bytes}
        self.staged = {}  # uploaded, not committed: hash -> {path: bytes}
        self.models = {}  # (name, version) -> {path: bytes}
        self.public = {}  # path under /public/ -> bytes, served without credentials
        self.public_requests = []  # headers of those requests
        self.statuses = []  # (monotonic time, body)
        self.logs = []  # bodies of log posts
        self.heartbeats = []  # (monotonic time, cancel_requested answered)
        self.results = []  # (monotonic time, body)
        self.content_checks = []  # hashes asked about with GET /api/v1/content/<hash>
        self.refused = []  # requests refused for bad credentials
        self.cancel_requested = False
        self.cancel_when_running = False  # from Running on, heartbeats (only they) answer cancel_requested
        self.heartbeat_cancel = False
        self.gone_on_heartbeat = False  # answer heartbeats with 409 (a newer attempt took over)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self._server.server_address[1]

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def add_content(self, files):
        """Stores {path: bytes} as committed content; returns (hash, file list) as a task carries them."""
        listing = [{'path': p, 'sha256': hashlib.sha256(b).hexdigest(), 'size': len(b)} for p, b in sorted(files.items())]
        digest = stub_manifest_hash(listing)
        self.content[digest] = dict(files)
        return digest, listing

    def log_text(self, stream):
        return ''.join(b['text'] for b in sorted(self.logs, key=lambda b: b['seq']) if b['stream'] == stream)

    def wait_for_result(self, timeout=20):
        deadline = time.monotonic() + timeout
        while not self.results:
            if time.monotonic() > deadline:
                raise AssertionError('no result within %s s' % timeout)
            time.sleep(0.02)
        return self.results[0][1]

    # ---- HTTP

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header('Content-Type', 'application/octet-stream' if isinstance(body, bytes) else 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, code, message):
                self._send(code, {'error': {'code': 'X', 'message': message}})

            def _body(self):
                return self.rfile.read(int(self.headers.get('Content-Length') or 0))

            def _route(self, method):
                path = urllib.parse.urlsplit(self.path).path
                if path.startswith('/public/'):  # a plain web server, outside Lapis
                    stub.public_requests.append(dict(self.headers))
                    data = stub.public.get(path[len('/public/'):])
                    return self._error(404, 'not found') if data is None else self._send(200, data)
                if self.headers.get('Authorization') != 'Bearer ' + stub.token or self.headers.get('X-Lapis-Workspace') != stub.workspace:
                    stub.refused.append((method, self.path))
                    return self._error(401, 'bad credentials')
                task = '/api/v1/jobs/%s/task' % stub.job
                if path == task and method == 'GET':
                    return self._send(200, stub.task)
                if path.startswith(task + '/') and method == 'POST':
                    return self._task_call(path[len(task) + 1:], json.loads(self._body()))
                model = path.split('/')
                if method == 'GET' and model[:4] == ['', 'api', 'v1', 'models'] and model[5:6] == ['versions'] and model[7:8] == ['files']:
                    name, version = urllib.parse.unquote(model[4]), urllib.parse.unquote(model[6])
                    data = stub.models.get((name, version), {}).get(urllib.parse.unquote('/'.join(model[8:])))
                    return self._error(404, 'no such model file') if data is None else self._send(200, data)
                if path.startswith('/api/v1/content/'):
                    return self._content(method, [urllib.parse.unquote(p) for p in path[len('/api/v1/content/'):].split('/')])
                return self._error(404, 'no route %s %s' % (method, path))

            def _task_call(self, what, body):
                now = time.monotonic()
                if body.get('attempt') != stub.attempt:
                    return self._error(409, 'stale attempt')
                with stub._lock:
                    if what == 'status':
                        stub.statuses.append((now, body))
                        if body['status'] == 'Running' and stub.cancel_when_running:
                            stub.heartbeat_cancel = True
                    elif what == 'logs':
                        stub.logs.append(body)
                    elif what == 'heartbeat':
                        if stub.gone_on_heartbeat:
                            return self._error(409, 'attempt 2 replaced this one')
                        cancel = stub.cancel_requested or stub.heartbeat_cancel
                        stub.heartbeats.append((now, cancel))
                        return self._send(200, {'cancel_requested': cancel})
                    elif what == 'result':
                        stub.results.append((now, body))
                    else:
                        return self._error(404, 'no task call %s' % what)
                    return self._send(200, {'cancel_requested': stub.cancel_requested})

            def _content(self, method, parts):
                digest = parts[0]
                if method == 'GET' and len(parts) == 1:
                    stub.content_checks.append(digest)
                    return self._send(200, {'exists': digest in stub.content})
                if method == 'GET' and parts[1:2] == ['files']:
                    data = stub.content.get(digest, {}).get('/'.join(parts[2:]))
                    return self._error(404, 'no such file') if data is None else self._send(200, data)
                if method == 'PUT' and parts[1:2] == ['files']:
                    data = self._body()
                    if hashlib.sha256(data).hexdigest() != self.headers.get('x-lapis-sha256'):
                        return self._error(400, 'sha256 mismatch')
                    stub.staged.setdefault(digest, {})['/'.join(parts[2:])] = data
                    return self._send(200, {'path': '/'.join(parts[2:]), 'size': len(data)})
                if method == 'POST' and parts[1:] == ['commit']:
                    files = json.loads(self._body())['files']
                    staged = stub.staged.get(digest, {})
                    if stub_manifest_hash(files) != digest or any(len(staged.get(f['path'], b'')) != f['size'] or f['path'] not in staged for f in files):
                        return self._error(400, 'bad commit')
                    stub.content[digest] = {f['path']: staged[f['path']] for f in files}
                    return self._send(200, {'hash': digest, 'files': len(files)})
                return self._error(404, 'no content route')

            def do_GET(self):
                self._route('GET')

            def do_POST(self):
                self._route('POST')

            def do_PUT(self):
                self._route('PUT')

        return Handler
