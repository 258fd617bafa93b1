"""Signed cloud -> kiosk commands (``cmd``) and their results (``cmd/res``).

``sig`` is an Ed25519 signature (base64) over :func:`Command.signing_bytes`:
the canonical JSON of every field except ``sig``. The kiosk refuses unsigned,
badly signed, expired or replayed (nonce seen) commands with a reason.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import Field

from .base import WireMessage

PING = "ping"
STATUS = "status"
MAINTENANCE = "maintenance"
REPRINT = "reprint"
LOG_LEVEL = "log_level"
SYNC_CATALOG = "sync_catalog"
RESTART = "restart"
COLLECT_LOGS = "collect_logs"
SELF_TEST = "self_test"

COMMAND_NAMES = frozenset(
    {PING, STATUS, MAINTENANCE, REPRINT, LOG_LEVEL, SYNC_CATALOG, RESTART, COLLECT_LOGS, SELF_TEST}
)


class Command(WireMessage):
    cmd_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    args: dict[str, Any] = Field(default_factory=dict)
    store: str
    kiosk: str
    issued_at: datetime
    expires_at: datetime
    nonce: str = Field(min_length=8, max_length=128)
    key_id: str = "default"
    sig: str | None = None

    def signing_bytes(self) -> bytes:
        """Canonical bytes the signature covers (sorted keys, no spaces, no ``sig``)."""
        body = self.model_dump(mode="json", exclude={"sig"})
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class CommandResult(WireMessage):
    cmd_id: str
    ok: bool
    result: dict[str, Any] | None = None
    error: str | None = None
