"""Signed cloud -> kiosk commands (``cmd``) and their results (``cmd/res``).

``sig`` is an Ed25519 signature (base64) over :func:`Command.signing_bytes`:
the canonical JSON of every field except ``sig``. The kiosk refuses unsigned,
badly signed, expired or replayed (nonce seen) commands with a reason.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, get_args

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
# Fleet jobs (issue 20): install a signed update bundle; args are a JobArgs.
JOB = "job"

CommandName = Literal[
    "ping", "status", "maintenance", "reprint", "log_level", "sync_catalog", "restart",
    "collect_logs", "self_test", "job",
]
COMMAND_NAMES: frozenset[CommandName] = frozenset(get_args(CommandName))


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


# -- fleet jobs (issue 20): cloud_bridge/jobs sends these, kiosk_agent/updates runs them ----

JobState = Literal["queued", "downloading", "installing", "health_checking", "succeeded",
                   "rolled_back", "failed"]
JOB_STATES: tuple[JobState, ...] = get_args(JobState)
JOB_TERMINAL = ("succeeded", "rolled_back", "failed")


class JobArgs(WireMessage):
    """The ``args`` of a ``job`` command: which bundle to fetch and install.

    The command's signature covers these, so ``sha256`` pins the exact bundle bytes; the
    bundle's own manifest signature is checked again on the kiosk before installing.
    """

    job_id: int = Field(ge=1)
    kind: str = Field(pattern=r"^(software|config)$")
    version: str = Field(min_length=1, max_length=64)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=1)
    url: str = Field(min_length=1, max_length=2000)
    # The command's own cmd_id (the handler sees only args): progress is reported under it.
    report_id: str = Field(min_length=1, max_length=60)


class JobProgress(WireMessage):
    """``result`` of the ``cmd/res`` messages a kiosk sends while it runs a job.

    Each state goes out with ``cmd_id = <job command's cmd_id>.<n>`` (n = the state's
    index in :data:`JOB_STATES`), so a repeated report of a state is one row at the bridge.
    """

    job_id: int
    state: str
    version: str | None = None
    reason: str | None = None


def progress_cmd_id(cmd_id: str, state: str) -> str:
    """The ``cmd_id`` a kiosk reports ``state`` of the job command ``cmd_id`` under."""
    return f"{cmd_id}.{JOB_STATES.index(state)}"
