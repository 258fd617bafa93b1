"""Per-book download tokens: what a kiosk shows to fetch a price book instead of its secret.

The store's retained catalog pointer (on the MQTT topic only that store's kiosks may
read, with the broker's ACL) carries the book's URL with ``?token=``: an HMAC of
(store, version) under a key derived from the bridge's command signing key. Anyone
who sees it on the shop LAN learns the right to download that one price book (prices
are on the shelf anyway), never a kiosk's MQTT identity, which the kiosk no longer
sends over plain HTTP at all (the kiosk's catalog sync).

Every bridge worker derives the same key from the same credential, so any worker
accepts a token another one put in the pointer. No signing key: no tokens (and
downloads need HTTP Basic, which the bridge refuses to take over plain http).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

CONTEXT = b"selfcheckout catalog download v1\x00"
QUERY = "token"


@cache
def _key_from_secret(secret: str) -> bytes | None:
    from contract.signing import load_private_key

    candidate = Path(secret)
    key = load_private_key(candidate if len(secret) < 4096 and candidate.is_file() else
                           secret.encode())
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    return hashlib.sha256(CONTEXT + raw).digest()


def token_key(config: Any) -> bytes | None:
    """The HMAC key of download tokens, or ``None`` without a command signing key."""
    from cloud_bridge.config import load_secret

    secret = load_secret(config.commands.signing_key_credential)
    return _key_from_secret(secret) if secret else None


def make_token(key: bytes, store: str, version: str) -> str:
    mac = hmac.new(key, f"{store}\x00{version}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def token_valid(key: bytes | None, store: str, version: str, token: str | None) -> bool:
    """Whether ``token`` grants the download of ``store``'s book ``version``."""
    if key is None or not token or len(token) > 100:
        return False
    return hmac.compare_digest(make_token(key, store, version), token)


def with_token(config: Any, url: str, store: str, version: str) -> str:
    """``url`` with the book's download token, when the bridge has a signing key."""
    key = token_key(config)
    return url if key is None else f"{url}?{QUERY}={make_token(key, store, version)}"
