"""One loopback port, two protocols: HTTP (/live, /ready and /score) and the router's framed /score.

Every connection gets a thread, so /live and /ready answer while a request is being scored; calls
into the scorer itself are bounded by LAPIS_SCORE_THREADS. A connection that opens with FRAMES_MAGIC
speaks frames (docs/scoring-host.md): a length-prefixed body in, a status and body out, with none of
http.server's per-request header parsing, which costs as much as the router itself.
"""
import http.server
import json
import socket
import struct
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

    def answer(self, raw, send):
        """Scores a /score request and calls send(status, body bytes, stopping) with the answer.

        The request counts as in flight until its answer is sent: a SIGTERM drain waits for that."""
        if not self.enter():
            send(503, _json({'error': 'The scoring host is stopping.'}), True)
            return
        try:
            send(*self._score(raw), False)
        finally:
            self.leave()

    def _score(self, raw):
        if not self.ready:
            if self.error is None:
                return 503, _json({'error': 'The deployment is still initializing: retry once GET /ready answers 200.'})
            last = self.error.rstrip().split('\n')[-1]
            return 503, _json({'error': 'The deployment failed to initialize (%s); the traceback is in the deployment\'s '
                                        'logs and at GET /ready. Fix the cause and update the deployment.' % last})
        started = time.monotonic()
        with self.slots:
            try:
                return 200, _json(self.scorer.score(raw))
            except BadRequest as e:
                log('POST /score 400 in %.0f ms: %s' % ((time.monotonic() - started) * 1000, e))
                return 400, _json({'error': str(e)})
            except Exception as e:
                trace = traceback.format_exc()
                error = ''.join(traceback.format_exception_only(type(e), e)).strip()
                log('POST /score 500 in %.0f ms:\n%s' % ((time.monotonic() - started) * 1000, trace))
                return 500, _json({'error': error, 'traceback': trace})


def _json(answer):
    return answer if isinstance(answer, bytes) else json.dumps(answer).encode('utf-8')


FRAMES_MAGIC = b'\x00LSF'  # no HTTP request starts with a NUL byte
_REQUEST_HEAD = struct.Struct('>IH')  # body length, content-type length
_RESPONSE_HEAD = struct.Struct('>HI')  # status, body length


def serve_frames(conn, host):
    """/score requests as frames, one at a time, until the router closes the connection.

    A stopping host answers 503 but keeps the connection: frames have no way to say "closing", and
    the router would otherwise reuse it for a request that could only fail."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(status, data, _stopping):
        conn.sendall(_RESPONSE_HEAD.pack(status, len(data)) + data)

    with conn.makefile('rb') as reader:
        while True:
            head = reader.read(_REQUEST_HEAD.size)
            if len(head) < _REQUEST_HEAD.size:
                return  # closed between requests
            length, type_length = _REQUEST_HEAD.unpack(head)
            # The content type: every body the host takes is read as JSON or text.
            if len(reader.read(type_length)) < type_length:
                return
            raw = reader.read(length)
            if len(raw) < length:
                return
            host.answer(raw, send)


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
        self.server.host.answer(raw, self._send)

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
        data = _json(answer)
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

    def finish_request(self, request, client_address):
        # Peeked, not read: an HTTP request reaches its handler whole.
        if request.recv(1, socket.MSG_PEEK) != FRAMES_MAGIC[:1]:
            return super().finish_request(request, client_address)
        magic = b''
        while len(magic) < len(FRAMES_MAGIC):
            part = request.recv(len(FRAMES_MAGIC) - len(magic))
            if not part:
                return
            magic += part
        if magic == FRAMES_MAGIC:
            serve_frames(request, self.host)

    def handle_error(self, request, client_address):
        what = traceback.format_exc()
        if isinstance(sys.exc_info()[1], ConnectionError):  # the client left before its answer: no traceback
            what = what.rstrip().split('\n')[-1]
        log('request from %s:%s failed: %s' % (client_address[0], client_address[1], what))
