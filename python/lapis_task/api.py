"""HTTP client for the Lapis server (urllib): JSON calls, streaming downloads and uploads.

Every call retries connection errors, 429 and 5xx with backoff for up to RETRY_FOR_S seconds,
because the server may be restarting while the job runs; everything the runner sends is
idempotent (log chunks carry a seq, uploads are content-addressed), so a retry is harmless.
"""
import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

from .errors import ApiError, Canceled, JobGone, TaskError

RETRY_FOR_S = 600.0
CHUNK = 1 << 20


def quote_path(path):
    """A `/`-separated file path with each segment percent-encoded."""
    return '/'.join(urllib.parse.quote(s, safe='') for s in path.strip('/').split('/'))


class Api:
    def __init__(self, url, workspace, token=None, retry_for=RETRY_FOR_S, timeout=60.0):
        self.base = url.rstrip('/')
        self.retry_for = retry_for
        self.timeout = timeout
        self._headers = {'X-Lapis-Workspace': workspace, 'Accept': 'application/json'}
        if token:
            self._headers['Authorization'] = 'Bearer ' + token
        self._opener = urllib.request.build_opener(_CredentialsStayHome())

    def url(self, path, query=None):
        query = {k: v for k, v in (query or {}).items() if v is not None}
        return self.base + path + ('?' + urllib.parse.urlencode(query) if query else '')

    def json(self, method, path, body=None, query=None, interrupt=None):
        """Sends a JSON request to a server path and returns the decoded answer."""
        data = None if body is None else json.dumps(body).encode('utf-8')
        headers = {'Content-Type': 'application/json'} if data is not None else {}
        url = self.url(path, query)

        def attempt():
            with self._open(method, url, data, headers) as res:
                raw = res.read()
            return json.loads(raw) if raw.strip() else {}

        try:
            return self._retrying(attempt, method, url, interrupt)
        except ApiError as e:
            if e.status in (404, 409) and path.startswith('/api/v1/jobs/'):
                raise JobGone(str(e)) from None
            raise

    def download(self, url, dest, sha256=None, size=None, interrupt=None, auth=True):
        """Streams `url` to `dest` (through `dest.part`), checking SHA-256 and size when given.

        `auth=False` for URLs outside Lapis: the token and workspace header must not leak there.
        Returns (sha256, size) of what was written.
        """
        part = dest + '.part'

        def attempt():
            digest = hashlib.sha256()
            n = 0
            with self._open('GET', url, None, {}, auth) as res, open(part, 'wb') as out:
                declared = res.headers.get('Content-Length')
                while True:
                    if interrupt is not None and interrupt.is_set():
                        raise Canceled()
                    chunk = res.read(CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                    n += len(chunk)
            # urllib returns a short body silently when the connection drops: retry it.
            if declared is not None and declared.isdigit() and int(declared) != n:
                raise http.client.IncompleteRead(b'', int(declared) - n)
            return digest.hexdigest(), n

        try:
            got_sha, got_size = self._retrying(attempt, 'GET', url, interrupt)
        except BaseException:
            _unlink(part)
            raise
        problem = None
        if sha256 and got_sha != sha256:
            problem = 'SHA-256 %s, not the expected %s' % (got_sha, sha256)
        elif size is not None and got_size != size:
            problem = '%d bytes, not the expected %d' % (got_size, size)
        if problem:
            _unlink(part)
            raise TaskError('%s arrived with %s: the stored file is damaged or was replaced; upload it again.' % (url, problem))
        os.replace(part, dest)
        return got_sha, got_size

    def upload(self, path, local, sha256, size, interrupt=None):
        """Streams a local file to a server path with PUT; the server verifies `x-lapis-sha256`."""
        url = self.url(path)
        headers = {'Content-Type': 'application/octet-stream', 'Content-Length': str(size), 'x-lapis-sha256': sha256}

        def attempt():
            with open(local, 'rb') as body, self._open('PUT', url, body, headers) as res:
                res.read()

        self._retrying(attempt, 'PUT', url, interrupt)

    def _open(self, method, url, data, headers, auth=True):
        all_headers = dict(self._headers) if auth else {}
        all_headers.update(headers)
        request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
        return self._opener.open(request, timeout=self.timeout)

    def _retrying(self, attempt, method, url, interrupt):
        deadline = time.monotonic() + self.retry_for
        delay = 0.5
        while True:
            try:
                return attempt()
            except urllib.error.HTTPError as e:
                if e.code < 500 and e.code != 429:
                    raise self._refused(e, method, url) from None
                problem = 'HTTP %d' % e.code
                e.close()
            except (OSError, http.client.HTTPException) as e:  # URLError is an OSError
                problem = str(getattr(e, 'reason', None) or e) or type(e).__name__
            if time.monotonic() + delay > deadline:
                raise ApiError('%s %s: no answer from the Lapis server for %.0f s (last: %s). Check that it '
                               'is running and reachable from this machine (LAPIS_URL).' % (method, url, self.retry_for, problem))
            if interrupt is not None:
                if interrupt.wait(delay):
                    raise Canceled()
            else:
                time.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _refused(self, e, method, url):
        try:
            text = e.read().decode('utf-8', 'replace')
        except OSError:
            text = ''
        finally:
            e.close()
        message = text.strip()[:300]
        try:
            body = json.loads(text)
            if isinstance(body.get('error'), dict) and isinstance(body['error'].get('message'), str):
                message = body['error']['message']
            elif isinstance(body.get('message'), str):
                message = body['message']
        except (ValueError, AttributeError):
            pass
        return ApiError('%s %s failed with HTTP %d%s' % (method, url, e.code, ': ' + message if message else ''), e.code)


class _CredentialsStayHome(urllib.request.HTTPRedirectHandler):
    """Follows redirects, but urllib would copy the token to another host: drop it there."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            new.remove_header('Authorization')
            new.remove_header('X-lapis-workspace')
        return new


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
