"""Member codes: short-lived signed tokens (:mod:`contract.tokens`) the kiosk reads.

The chain has one member-code key (Ed25519). It comes from the bridge credential
``member_signing_key`` (PEM), else it is created once in the kiosk provisioning dir
(``[http] kiosk_auth_dir``, ``member_signing.key``, 0600) next to the badge key; kiosks
get only the public half (``member_pubkey`` in every bundle of ``cloud-bridge kiosk
add``), so a kiosk can check a member code offline but never make one.

A code is a token of kind ``member`` for the member id, valid for minutes; its ``r``
claim carries the level and a snapshot of points and stored value as
``<level>/<points>/<fen>`` so an offline kiosk prices with the right level
and stays within what the member had when the code was shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract.signing import (
    KeyMaterialError,
    ensure_key_pair,
    load_private_key,
)
from contract.tokens import ANY_STORE, issue_token

from ..config import load_secret
from ..errors import Unavailable

if TYPE_CHECKING:
    from cloud_bridge.config import BridgeConfig

MEMBER_KEY_FILE = "member_signing.key"
MEMBER_PUBKEY_FILE = "member_pubkey.pem"
MEMBER_KEY_CREDENTIAL = "member_signing_key"
#: the kiosk credential of the public key (systemd LoadCredential= / env KIOSK_MEMBER_PUBKEY)
MEMBER_PUBKEY_CREDENTIAL = "member_pubkey"
MEMBER_KIND = "member"
# Long enough to walk from the phone to the camera and retry once; short enough that a
# screenshot passed around is useless within minutes. Kiosks cap the age at the same value.
MEMBER_CODE_TTL_S = 180


def ensure_member_key(config_dir: Path) -> Path:
    """Create the chain's member-code key pair in ``config_dir`` once; the key's path."""
    return ensure_key_pair(config_dir, MEMBER_KEY_FILE, MEMBER_PUBKEY_FILE)


def signing_key(config: BridgeConfig) -> Ed25519PrivateKey:
    """The member-code private key; 503 when the bridge has none configured."""
    blob = load_secret(MEMBER_KEY_CREDENTIAL)
    try:
        if blob:
            return load_private_key(blob.encode())
        auth_dir = config.http.kiosk_auth_dir
        if auth_dir is not None:
            return load_private_key(ensure_member_key(Path(auth_dir)))
    except (KeyMaterialError, OSError, ValueError) as err:
        raise Unavailable(f"member code key unusable: {type(err).__name__}") from None
    raise Unavailable("no member code key: set the member_signing_key credential "
                      "or [http] kiosk_auth_dir")


def snapshot_role(level: str, points: int, stored_value_fen: int) -> str:
    """The ``r`` claim: level and balance snapshot."""
    return f"{level}/{points}/{stored_value_fen}"


def issue_member_code(key: Ed25519PrivateKey, member_id: str, level: str, points: int,
                      stored_value_fen: int, *, ttl_s: int = MEMBER_CODE_TTL_S,
                      now: float | None = None) -> str:
    """A signed member code for ``member_id``, good at every store for ``ttl_s``."""
    return issue_token(key, kind=MEMBER_KIND, subject=member_id, store=ANY_STORE,
                       ttl_s=ttl_s, role=snapshot_role(level, points, stored_value_fen),
                       now=now)
