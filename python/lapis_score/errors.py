"""The one failure the host blames on the request rather than on the deployment."""


class BadRequest(Exception):
    """The body cannot be scored: answered 400 with this message, which says what to send instead."""
