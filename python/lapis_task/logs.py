"""Log shipping: text from any thread goes to the server in ordered, numbered chunks.

One background thread sends everything, so `seq` (1, 2, 3, ... across all streams) follows the
order in which text was written. A chunk holds consecutive text of one stream and leaves at the
latest INTERVAL_S after its oldest text arrived, or as soon as MAX_CHUNK bytes are waiting.
"""
import collections
import sys
import threading
import time

from .errors import ApiError, JobGone

INTERVAL_S = 0.25
MAX_CHUNK = 64 * 1024
# Text kept while the server is unreachable; beyond it the rest is only in logs/std_log.txt.
MAX_BACKLOG = 32 * 1024 * 1024


def human_size(n):
    if n < 1024:
        return '%d B' % n
    for unit in ('KiB', 'MiB', 'GiB', 'TiB'):
        n /= 1024.0
        if n < 1024 or unit == 'TiB':
            return ('%.1f %s' if n < 10 else '%.0f %s') % (n, unit)


class LogShipper:
    """`post(stream, seq, text)` sends one chunk (retrying as it sees fit); user text also goes to `local_path`."""

    def __init__(self, post, local_path=None, interval=INTERVAL_S, max_chunk=MAX_CHUNK, echo=sys.stderr):
        self._post = post
        self._interval = interval
        self._max_chunk = max_chunk
        self._echo = echo
        self._file = open(local_path, 'a', encoding='utf-8', errors='replace') if local_path else None
        self._cond = threading.Condition()
        self._pending = collections.deque()  # [stream, text, utf-8 size], oldest first
        self._pending_bytes = 0
        self._oldest_at = None
        self._closed = False
        self._offline = False  # a chunk could not be delivered in the whole retry window
        self._dropped = 0
        self._seq = 0
        self._thread = threading.Thread(target=self._loop, name='lapis-logs', daemon=True)
        self._thread.start()

    def write(self, stream, text):
        if not text:
            return
        size = len(text.encode('utf-8', 'replace'))
        with self._cond:
            if stream == 'user' and self._file:
                self._file.write(text)
                self._file.flush()
            if self._offline or self._pending_bytes + size > MAX_BACKLOG:
                self._dropped += size
                return
            self._pending.append([stream, text, size])
            self._pending_bytes += size
            # Wake the sender for the first text (to start its interval) and for a full chunk.
            if self._oldest_at is None or self._pending_bytes >= self._max_chunk:
                self._cond.notify()
            if self._oldest_at is None:
                self._oldest_at = time.monotonic()

    def system(self, message):
        """A runner message, every line prefixed: to the job log (stream `system`) and the runner's stderr."""
        text = ''.join('[lapis] %s\n' % line for line in message.rstrip('\n').split('\n'))
        self.write('system', text)
        if self._echo:
            self._echo.write(text)
            self._echo.flush()

    def close(self):
        """Sends everything still waiting, then stops the thread."""
        with self._cond:
            if self._dropped and not self._offline:
                note = ('[lapis] %s of log text were not sent (the server was unreachable); the whole output '
                        'is in logs/std_log.txt of the job folder.\n' % human_size(self._dropped))
                self._pending.append(['system', note, len(note)])
                self._pending_bytes += len(note)
            self._closed = True
            self._cond.notify()
        self._thread.join()
        if self._file:
            self._file.close()

    def _loop(self):
        while True:
            with self._cond:
                while not self._closed and self._pending_bytes < self._max_chunk:
                    if self._oldest_at is None:
                        self._cond.wait()
                        continue
                    left = self._oldest_at + self._interval - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if not self._pending:
                    if self._closed:
                        return
                    continue
                stream, text = self._take()
                self._seq += 1
                seq = self._seq
            self._send(stream, seq, text)

    def _take(self):
        """Removes the next chunk: consecutive text of the oldest stream, at most max_chunk UTF-8 bytes."""
        stream = self._pending[0][0]
        parts = []
        room = self._max_chunk
        while self._pending and self._pending[0][0] == stream and room > 0:
            piece = self._pending[0]
            if piece[2] <= room:
                self._pending.popleft()
                parts.append(piece[1])
                room -= piece[2]
                continue
            # Split on a character boundary: a cut UTF-8 sequence is dropped by 'ignore'.
            head = piece[1].encode('utf-8', 'replace')[:room].decode('utf-8', 'ignore')
            if head:
                parts.append(head)
                piece[1] = piece[1][len(head):]
                used = len(head.encode('utf-8', 'replace'))
                piece[2] -= used
                room -= used
            break
        self._pending_bytes -= self._max_chunk - room
        if not self._pending:
            self._oldest_at = None
        return stream, ''.join(parts)

    def _send(self, stream, seq, text):
        try:
            self._post(stream, seq, text)
        except (ApiError, JobGone) as e:
            # Undeliverable for the whole retry window, or refused for good: stop trying, so that
            # closing does not wait another retry window per chunk.
            with self._cond:
                self._offline = True
                self._dropped += sum(p[2] for p in self._pending) + len(text.encode('utf-8', 'replace'))
                self._pending.clear()
                self._pending_bytes = 0
                self._oldest_at = None
            if self._echo:
                self._echo.write('[lapis] stopped sending logs: %s\n' % e)
        except Exception as e:  # noqa: BLE001 - a log post must never kill the job
            if self._echo:
                self._echo.write('[lapis] could not send log chunk %d: %s\n' % (seq, e))
