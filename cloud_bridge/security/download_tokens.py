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

Tokens expire: ``<expires_at>.<mac>`` with the expiry under the MAC, a day after it was
minted (:data:`TOKEN_TTL_S`); an expired one is answered 403 with the reason, and the
bridge re-announces pointers with fresh tokens every :data:`REANNOUNCE_S`. A URL copied
off the shop LAN is useless the next day. Update bundle URLs (fleet jobs) use the same
tokens with their own parts (:func:`mint`, :func:`verdict`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization

if TYPE_CHECKING:
    from cloud_bridge.config import BridgeConfig

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


def token_key(config: BridgeConfig) -> bytes | None:
    """The HMAC key of download tokens, or ``None`` without a command signing key."""
    from cloud_bridge.config import load_secret

    secret = load_secret(config.commands.signing_key_credential)
    return _key_from_secret(secret) if secret else None


# A token is good for a day: a kiosk fetches a book as soon as its pointer arrives, and the
# bridge re-announces every store's pointer (fresh token) every REANNOUNCE_S while it
# runs, so the retained pointer a kiosk finds after a restart always carries a live one.
TOKEN_TTL_S = 24 * 3600
REANNOUNCE_S = 3600
# Expiries are rounded up to the hour: every worker mints the same token within an hour
# (one retained pointer, not one per worker and second).
_ROUND_S = 3600
# Clock skew between the workers of one deployment (NTP): seconds, allowed generously.
_SKEW_S = 300

OK, EXPIRED, INVALID = "ok", "expired", "invalid"


def expiry(now: float | None = None, ttl_s: int = TOKEN_TTL_S) -> int:
    """The expiry of a token minted now: at least ``ttl_s`` away, on a round hour."""
    # Rounded up, not down: minted at hh:00:00.7, int() gave hh:00:00 tomorrow, 0.7 s short.
    t = math.ceil(time.time() if now is None else now) + ttl_s
    return -(-t // _ROUND_S) * _ROUND_S


def mint(key: bytes, parts: tuple[str, ...], expires_at: int) -> str:
    """``<expires_at>.<mac>``: an HMAC of ``parts`` and the expiry (so it cannot be moved)."""
    msg = "\x00".join((*parts, str(expires_at))).encode()
    mac = hmac.new(key, msg, hashlib.sha256).digest()
    return f"{expires_at}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def verdict(key: bytes | None, parts: tuple[str, ...], token: str | None,
            now: float | None = None, ttl_s: int = TOKEN_TTL_S) -> str:
    """:data:`OK`, :data:`EXPIRED` (ours, past its expiry) or :data:`INVALID`."""
    if key is None or not token or len(token) > 100:
        return INVALID
    exp_text, sep, _ = token.partition(".")
    if not sep or not exp_text.isdigit() or len(exp_text) > 12:
        return INVALID
    expires_at = int(exp_text)
    # As bytes: compare_digest refuses non-ASCII str (a fuzzer's token must be 401, not 500).
    if not hmac.compare_digest(mint(key, parts, expires_at).encode(),
                               token.encode("utf-8", "surrogatepass")):
        return INVALID
    t = time.time() if now is None else now
    if expires_at > t + ttl_s + _ROUND_S + _SKEW_S:
        return INVALID  # not a lifetime this bridge gives (a key leaked, or a bug)
    return OK if t < expires_at else EXPIRED


def make_token(key: bytes, store: str, version: str, now: float | None = None) -> str:
    """The download token of ``store``'s book ``version``, good for :data:`TOKEN_TTL_S`."""
    return mint(key, (store, version), expiry(now))


def token_verdict(key: bytes | None, store: str, version: str, token: str | None,
                  now: float | None = None) -> str:
    """Whether ``token`` grants ``store``'s book ``version`` now (:func:`verdict`)."""
    return verdict(key, (store, version), token, now)


def token_valid(key: bytes | None, store: str, version: str, token: str | None) -> bool:
    """Whether ``token`` grants the download of ``store``'s book ``version`` now."""
    return token_verdict(key, store, version, token) == OK


def with_token(config: BridgeConfig, url: str, store: str, version: str) -> str:
    """``url`` with the book's download token, when the bridge has a signing key."""
    key = token_key(config)
    return url if key is None else f"{url}?{QUERY}={make_token(key, store, version)}"
