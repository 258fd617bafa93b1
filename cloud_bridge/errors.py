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


class UpstreamError(BridgeError):
    status = 502
    title = "Upstream error"
