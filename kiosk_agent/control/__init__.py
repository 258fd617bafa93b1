"""The agent's local control API: JSON over HTTP on a Unix socket, for the staff TUI.

Only processes that can open the socket (mode 0660, owner ``kiosk``, group
``config.control.socket_group``) can talk to it. Reading is open to them; every
call that changes state (``POST`` other than ``/v1/session``) also needs a staff
session: ``POST /v1/session {"pin": "..."}`` checks the PIN against an argon2
hash (``config.control.staff_pin_hash`` or the ``staff_pin_hash`` credential) and
returns a token, sent back as ``Authorization: Bearer <token>``. A token expires
after ``config.control.idle_lock_s`` without use; wrong PINs are rate limited.

The server talks to the agent through :class:`AgentControl`, a protocol of small
async methods. Every method is optional: a missing one answers ``501`` so a
partly wired agent still serves the rest. :class:`AgentFacade` merges several
providers (the agent itself, :class:`JournalControl` over its journal, ...).

Modules: :mod:`.facade` (what the API asks of the agent), :mod:`.sessions` (staff
PIN sessions), :mod:`.routes` (the HTTP routes, listed there), :mod:`.server` (the
socket and the agent component), :mod:`.config_view`, :mod:`.jsonable`, :mod:`.errors`.
"""

from .config_view import REDACTED, SECRET_KEYS, describe_config
from .errors import ControlApiError
from .facade import AgentControl, AgentControlAdapter, AgentFacade, JournalControl
from .jsonable import to_jsonable
from .routes import (
    AGENT_CALL_TIMEOUT_S,
    AGENT_KEY,
    CONFIG_KEY,
    LOGS_KEY,
    MAX_BODY_BYTES,
    SESSION_READS,
    SESSIONS_KEY,
    create_app,
)
from .server import SOCKET_MODE, ControlComponent, ControlServer, control_component
from .sessions import (
    PIN_FREE_ATTEMPTS,
    PIN_LOCKOUT_BASE_S,
    PIN_LOCKOUT_MAX_S,
    StaffSessions,
    hash_pin,
    resolve_pin_hash,
)

__all__ = [
    "AGENT_CALL_TIMEOUT_S",
    "AGENT_KEY",
    "CONFIG_KEY",
    "LOGS_KEY",
    "MAX_BODY_BYTES",
    "PIN_FREE_ATTEMPTS",
    "PIN_LOCKOUT_BASE_S",
    "PIN_LOCKOUT_MAX_S",
    "REDACTED",
    "SECRET_KEYS",
    "SESSIONS_KEY",
    "SESSION_READS",
    "SOCKET_MODE",
    "AgentControl",
    "AgentControlAdapter",
    "AgentFacade",
    "ControlApiError",
    "ControlComponent",
    "ControlServer",
    "JournalControl",
    "StaffSessions",
    "control_component",
    "create_app",
    "describe_config",
    "hash_pin",
    "resolve_pin_hash",
    "to_jsonable",
]
