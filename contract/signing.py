"""Ed25519 signing and verification of fleet commands (:class:`wire.Command`).

The bridge holds one signing key per deployment; every kiosk holds its public
half (``command_pubkey`` credential). The signature covers
:meth:`Command.signing_bytes` (canonical JSON of every field but ``sig``), so a
changed argument, target kiosk, nonce or validity window breaks it.

:class:`NonceCache` remembers the nonces of accepted commands until they expire,
persisted to a small file, so that neither a replay nor a restart followed by a
replay can run a command twice within its validity window.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .wire.commands import Command
from .wire.shadow import ShadowDesired

log = logging.getLogger(__name__)

# A nonce is kept at least until its command expires; the cap bounds the file when
# a misbehaving sender floods us. Commands live about a minute, so 4096 is plenty.
NONCE_CACHE_MAX = 4096


class Signed(Protocol):
    """A signed message: a command or a desired state."""

    @property
    def sig(self) -> str | None: ...

    def signing_bytes(self) -> bytes: ...


class SignatureError(Exception):
    """A command whose signature is missing or does not verify; ``str()`` is the reason."""


class KeyMaterialError(ValueError):
    """Key material that cannot be parsed."""


def generate_signing_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 signing key (once per deployment, on the bridge)."""
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted (the file is protected by its mode, 0600)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM of the public half."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Short stable id of a key pair: the first 16 hex digits of sha256(raw public key)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _raw32(data: bytes) -> bytes | None:
    """32 raw key bytes given as raw, hex or base64; ``None`` when it is none of these."""
    if len(data) == 32:
        return data
    text = data.strip()
    for decoder in (binascii.unhexlify, base64.b64decode):
        try:
            raw = decoder(text)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == 32:
            return raw
    return None


def load_private_key(data: bytes | str | Path) -> Ed25519PrivateKey:
    """A signing key from PEM (PKCS#8) or 32 raw / hex / base64 bytes, or from a file path."""
    blob = _read(data)
    try:
        if b"-----BEGIN" in blob:
            key = serialization.load_pem_private_key(blob, password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise KeyMaterialError("PEM key is not Ed25519")
            return key
        raw = _raw32(blob)
        if raw is None:
            raise KeyMaterialError("not a PEM or 32-byte Ed25519 private key")
        return Ed25519PrivateKey.from_private_bytes(raw)
    except (ValueError, TypeError) as err:
        if isinstance(err, KeyMaterialError):
            raise
        raise KeyMaterialError(f"unreadable Ed25519 private key: {err}") from err


def load_public_key(data: bytes | str | Path) -> Ed25519PublicKey:
    """A verification key from PEM (SubjectPublicKeyInfo) or 32 raw / hex / base64 bytes."""
    blob = _read(data)
    try:
        if b"-----BEGIN" in blob:
            key = serialization.load_pem_public_key(blob)
            if not isinstance(key, Ed25519PublicKey):
                raise KeyMaterialError("PEM key is not Ed25519")
            return key
        raw = _raw32(blob)
        if raw is None:
            raise KeyMaterialError("not a PEM or 32-byte Ed25519 public key")
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as err:
        if isinstance(err, KeyMaterialError):
            raise
        raise KeyMaterialError(f"unreadable Ed25519 public key: {err}") from err


def _read(data: bytes | str | Path) -> bytes:
    if isinstance(data, Path):
        return data.read_bytes()
    if isinstance(data, str):
        return data.encode()
    return bytes(data)


def sign_command(command: Command, key: Ed25519PrivateKey) -> Command:
    """A copy of ``command`` with ``key_id`` set to the key's id and ``sig`` filled in."""
    unsigned = command.model_copy(update={"key_id": key_id(key), "sig": None})
    sig = key.sign(unsigned.signing_bytes())
    return unsigned.model_copy(update={"sig": base64.b64encode(sig).decode()})


def sign_shadow(desired: ShadowDesired, key: Ed25519PrivateKey) -> ShadowDesired:
    """A copy of ``desired`` (which names its target store and kiosk) signed with ``key``."""
    if not desired.store or not desired.kiosk:
        raise ValueError("a signed desired state names its target store and kiosk")
    unsigned = desired.model_copy(update={"key_id": key_id(key), "sig": None})
    sig = key.sign(unsigned.signing_bytes())
    return unsigned.model_copy(update={"sig": base64.b64encode(sig).decode()})


def verify_shadow(desired: ShadowDesired, keys: list[Ed25519PublicKey] | Ed25519PublicKey,
                  store: str, kiosk: str) -> None:
    """Raise :class:`SignatureError` unless one of ``keys`` signed ``desired`` for this kiosk."""
    if not desired.sig:
        raise SignatureError("unsigned desired state")
    if (desired.store, desired.kiosk) != (store, kiosk):
        raise SignatureError(f"desired state for {desired.store}/{desired.kiosk}, "
                             f"not {store}/{kiosk}")
    verify_command(desired, keys, what="desired state")


def verify_command(command: Signed, keys: list[Ed25519PublicKey] | Ed25519PublicKey,
                   what: str = "command") -> None:
    """Raise :class:`SignatureError` unless one of ``keys`` signed ``command``."""
    if not command.sig:
        raise SignatureError(f"unsigned {what}")
    try:
        sig = base64.b64decode(command.sig, validate=True)
    except (binascii.Error, ValueError) as err:
        raise SignatureError("signature is not base64") from err
    if len(sig) != 64:
        raise SignatureError("signature has the wrong length")
    candidates = keys if isinstance(keys, list) else [keys]
    message = command.signing_bytes()
    for pub in candidates:
        try:
            pub.verify(sig, message)
            return
        except InvalidSignature:
            continue
    raise SignatureError("bad signature")


class NonceCache:
    """Nonces of accepted commands, kept until their command expires.

    Persisted (atomically) to ``path`` when given, so a replay right after a restart
    is still refused. Bounded: at most ``max_entries``; the soonest to expire go first.
    """

    def __init__(self, path: Path | str | None = None, max_entries: int = NONCE_CACHE_MAX) -> None:
        self.path = Path(path) if path is not None else None
        self.max_entries = max_entries
        self._seen: dict[str, float] = {}
        self._load()

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self._seen = {str(k): float(v) for k, v in raw.items()}
        except (OSError, ValueError, AttributeError) as err:
            # A corrupt cache must not stop the kiosk; commands still need a valid
            # signature and an unexpired window, so the exposure is that window only.
            log.error("nonce cache %s unreadable, starting empty: %s", self.path, err)
            self._seen = {}
        self._prune(time.time())

    def _prune(self, now: float) -> None:
        self._seen = {n: exp for n, exp in self._seen.items() if exp >= now}
        if len(self._seen) > self.max_entries:
            keep = sorted(self._seen.items(), key=lambda kv: kv[1])[-self.max_entries :]
            self._seen = dict(keep)

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".nonces", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self._seen, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise

    def seen(self, nonce: str) -> bool:
        """Whether ``nonce`` was accepted and has not expired yet."""
        exp = self._seen.get(nonce)
        return exp is not None and exp >= time.time()

    def add(self, nonce: str, expires_at: float) -> bool:
        """Record ``nonce`` until ``expires_at`` (epoch s); ``False`` when already seen."""
        now = time.time()
        if self.seen(nonce):
            return False
        self._seen[nonce] = expires_at
        self._prune(now)
        self._save()
        return True

    def __len__(self) -> int:
        return len(self._seen)


def ensure_key_pair(folder: Path, key_file: str, pubkey_file: str) -> Path:
    """Create an Ed25519 key pair in ``folder`` once (private key 0600, created exclusively,
    so two processes never write two keys); return the private key's path."""
    key_path = folder / key_file
    if not key_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        key = generate_signing_key()
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(private_key_pem(key))
        (folder / pubkey_file).write_bytes(public_key_pem(key))
    return key_path
