"""The ways a task stops early; each maps to one outcome in main.py."""


class TaskError(Exception):
    """The job fails with this message, which says what went wrong and how to fix it."""


class Canceled(Exception):
    """A cancel arrived (heartbeat `cancel_requested` or SIGTERM) while preparing or finalizing."""


class JobGone(Exception):
    """The server answered 404 (job gone) or 409 (stale attempt) on a job endpoint: stop, report nothing."""


class ApiError(Exception):
    """The server refused a call, or stayed unreachable for the whole retry window."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status
