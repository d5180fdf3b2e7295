"""The host's own log lines, on stderr (kept by the server as the deployment's log), each prefixed
`[lapis-score] ` so they stand apart from what score.py prints."""
import sys
import threading

_lock = threading.Lock()  # a multi-line message stays in one piece when threads log at once


def log(message):
    text = ''.join('[lapis-score] %s\n' % line for line in str(message).rstrip('\n').split('\n'))
    with _lock:
        sys.stderr.write(text)
        sys.stderr.flush()
