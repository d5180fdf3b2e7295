"""HTTP on loopback: /live, /ready and /score, with the scorer initialized in the background.

Every connection gets a thread, so /live and /ready answer while a request is being scored; calls
into the scorer itself are bounded by LAPIS_SCORE_THREADS.
"""
import http.server
import json
import sys
import threading
import time
import traceback

from .errors import BadRequest
from .log import log


class Host:
    """The scorer, its initialization state and the requests in flight, shared by the handler threads."""

    def __init__(self, scorer, threads):
        self.scorer = scorer
        self.slots = threading.BoundedSemaphore(threads)
        self.ready = False
        self.error = None  # the traceback of a failed initialization
        self._cond = threading.Condition()
        self._in_flight = 0
        self._stopping = False

    def initialize(self):
        started = time.monotonic()
        log('initializing the %s' % self.scorer.describe())
        try:
            self.scorer.initialize()
        except BaseException:  # SystemExit from the script too: the host stays up to report it
            self.error = traceback.format_exc()
            log('initialization failed after %.1f s; the host keeps running without retrying, and GET /ready reports '
                'this error until the deployment is updated or restarted:\n%s' % (time.monotonic() - started, self.error))
            return
        self.ready = True
        log('ready after %.1f s' % (time.monotonic() - started))

    def enter(self):
        """Counts a /score request in; False once stopping."""
        with self._cond:
            if self._stopping:
                return False
            self._in_flight += 1
            return True

    def leave(self):
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def drain(self, timeout):
        """Refuses new requests, then waits up to `timeout` s for those in flight; returns how many are left."""
        with self._cond:
            self._stopping = True
            self._cond.wait_for(lambda: self._in_flight == 0, timeout)
            return self._in_flight


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'  # keep-alive: the router reuses its connections
    # http.server writes the status line, headers and body in separate sends; with Nagle on, each
    # answer on a kept-alive connection waits for the router's delayed ACK (~40 ms per request).
    disable_nagle_algorithm = True
    server_version = 'lapis-score'

    def do_GET(self):
        host = self.server.host
        path = self.path.split('?', 1)[0]
        if path == '/live':
            self._send(200, {'live': True})
        elif path == '/ready' and host.ready:
            self._send(200, {'ready': True})
        elif path == '/ready':
            self._send(503, {'ready': False, 'error': host.error})
        elif path == '/score':
            self._send(405, {'error': 'Send POST /score with the request body.'})
        else:
            self._not_found(path)

    def do_POST(self):
        try:
            raw = self._read_body()
        except ValueError as e:
            self._send(400, {'error': 'Could not read the request body: %s.' % e}, close=True)
            return
        path = self.path.split('?', 1)[0]
        if path != '/score':
            self._not_found(path)
            return
        host = self.server.host
        if not host.enter():
            self._send(503, {'error': 'The scoring host is stopping.'}, close=True)
            return
        try:
            self._score(host, raw)
        finally:
            host.leave()

    def _score(self, host, raw):
        if not host.ready:
            if host.error is None:
                self._send(503, {'error': 'The deployment is still initializing: retry once GET /ready answers 200.'})
            else:
                last = host.error.rstrip().split('\n')[-1]
                self._send(503, {'error': 'The deployment failed to initialize (%s); the traceback is in the deployment\'s '
                                          'logs and at GET /ready. Fix the cause and update the deployment.' % last})
            return
        started = time.monotonic()
        with host.slots:
            try:
                answer = host.scorer.score(raw)
            except BadRequest as e:
                status, answer = 400, {'error': str(e)}
                log('POST /score 400 in %.0f ms: %s' % ((time.monotonic() - started) * 1000, e))
            except Exception as e:
                trace = traceback.format_exc()
                error = ''.join(traceback.format_exception_only(type(e), e)).strip()
                status, answer = 500, {'error': error, 'traceback': trace}
                log('POST /score 500 in %.0f ms:\n%s' % ((time.monotonic() - started) * 1000, trace))
            else:
                status = 200
        self._send(status, answer)

    def _read_body(self):
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b';', 1)[0].strip(), 16)
                if size < 0:
                    raise ValueError('negative chunk size')
                if size == 0:
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()  # the CRLF ending each chunk
            while self.rfile.readline().strip():  # trailer fields, up to the empty line
                pass
            return b''.join(parts)
        length = int(self.headers.get('Content-Length') or 0)
        if length < 0:
            raise ValueError('negative Content-Length')
        return self.rfile.read(length)

    def _not_found(self, path):
        self._send(404, {'error': 'No such path %s: the scoring host serves GET /live, GET /ready and POST /score.' % path})

    def _send(self, status, answer, close=False):
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        if close:
            self.send_header('Connection', 'close')
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def send_error(self, code, message=None, explain=None):
        # The base class answers malformed requests and unknown methods with HTML: keep to JSON.
        self.log_error('code %d, message %s', code, message)
        self._send(code, {'error': message or self.responses.get(code, ('HTTP %d' % code,))[0]}, close=True)

    def log_request(self, code='-', size='-'):
        pass  # /score failures are logged with their cause; a line per request would drown them

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        log('%s: %s' % (self.address_string(), format % args))


class Server(http.server.ThreadingHTTPServer):
    def __init__(self, port, host):
        self.host = host
        super().__init__(('127.0.0.1', port), Handler)

    def handle_error(self, request, client_address):
        what = traceback.format_exc()
        if isinstance(sys.exc_info()[1], ConnectionError):  # the client left before its answer: no traceback
            what = what.rstrip().split('\n')[-1]
        log('request from %s:%s failed: %s' % (client_address[0], client_address[1], what))
