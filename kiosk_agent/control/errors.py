"""The control API's one exception: what the client is answered when a call fails."""

from __future__ import annotations


class ControlApiError(Exception):
    """An error answered to the client as ``{"error": code, "message": message}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
