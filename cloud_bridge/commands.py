"""Bridge side of fleet commands: build, sign and publish a :class:`wire.Command`.

Used by the admin API (``/api/v1/admin/kiosks/.../commands``). The kiosk answers
on ``cmd/res`` with a :class:`wire.CommandResult` carrying the same ``cmd_id``.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.jsontypes import JsonMapping
from contract.signing import load_private_key
from contract.signing import sign_command as _sign
from contract.wire.base import utcnow
from contract.wire.commands import Command
from contract.wire.events import uuid7
from contract.wire.topics import KioskTopics

from .config import BridgeConfig, load_secret

# Long enough for a kiosk on a slow link to receive it (the broker holds it in the
# kiosk's persistent session), short enough that a captured command dies quickly.
DEFAULT_TTL_S = 300.0


class CommandPublisher(Protocol):
    """What sends a command: an aiomqtt client, or the bridge's ingest connection."""

    def publish(self, topic: str, payload: bytes, *, qos: int) -> Awaitable[object]: ...


def sign_command(
    key: Ed25519PrivateKey,
    store: str,
    kiosk: str,
    name: str,
    args: JsonMapping | None = None,
    ttl_s: float = DEFAULT_TTL_S,
    cmd_id: str | None = None,
) -> Command:
    """A new command (fresh id and nonce, issued now, valid ``ttl_s``) signed with ``key``."""
    now = utcnow()
    command = Command(
        cmd_id=cmd_id or uuid7(),
        name=name,
        args=dict(args or {}),
        store=store,
        kiosk=kiosk,
        issued_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
        nonce=secrets.token_hex(16),
    )
    return _sign(command, key)


async def publish_command(
    client: CommandPublisher,
    key: Ed25519PrivateKey,
    store: str,
    kiosk: str,
    name: str,
    args: JsonMapping | None = None,
    ttl_s: float = DEFAULT_TTL_S,
) -> Command:
    """Sign and publish (QoS 1, not retained) on the kiosk's ``cmd`` topic with an aiomqtt client.

    Returns the command; match its ``cmd_id`` against ``cmd/res`` results.
    """
    command = sign_command(key, store, kiosk, name, args, ttl_s)
    await client.publish(KioskTopics(store, kiosk).cmd, command.encode(), qos=1)
    return command


def load_signing_key(config: BridgeConfig) -> Ed25519PrivateKey | None:
    """The Ed25519 command signing key from credentials, or ``None`` if not provisioned."""
    secret = load_secret(config.commands.signing_key_credential)
    if not secret:
        return None
    candidate = Path(secret)
    return load_private_key(candidate if len(secret) < 4096 and candidate.is_file() else
                            secret.encode())
