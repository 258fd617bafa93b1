"""The bridge's exception tree; the HTTP layer turns each into a problem-details reply."""

from __future__ import annotations


class BridgeError(Exception):
    """Base of the bridge's domain errors; ``status`` and ``title`` map to HTTP."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidRequest(BridgeError):
    status = 400
    title = "Invalid request"


class Unauthorized(BridgeError):
    status = 401
    title = "Unauthorized"


class Forbidden(BridgeError):
    status = 403
    title = "Forbidden"


class NotFound(BridgeError):
    status = 404
    title = "Not found"


class Conflict(BridgeError):
    status = 409
    title = "Conflict"


class Unavailable(BridgeError):
    status = 503
    title = "Service unavailable"


class TooManyRequests(BridgeError):
    """Throttled or locked out; ``retry_after`` (seconds) becomes the Retry-After header."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = max(1, int(retry_after))


class UpstreamError(BridgeError):
    status = 502
    title = "Upstream error"
