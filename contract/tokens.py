"""Compact signed tokens for QR codes: staff badges, member codes, receipt claims.

A token is a small claim set signed with Ed25519, written as text that fits a QR
code at a till (under 300 characters)::

    S1.<payload>.<signature>

``payload`` is the unpadded base64url of the canonical JSON (sorted keys, no
spaces, UTF-8) of the claims below; ``signature`` is the unpadded base64url of the
64-byte Ed25519 signature over the ASCII bytes ``S1.<payload>`` (the prefix is
signed, so a token of a later format can never be replayed as this one).

Claims (short keys keep the QR small):

====  =====================================================================
k     kind: ``staff``, ``member``, ... (a verifier names the kind it wants)
sub   subject: the staff or member id (1-64 of ``[A-Za-z0-9_.:-]``)
st    store scope: a store id, or ``*`` for every store of the chain
iat   issued at, epoch seconds
exp   expires at, epoch seconds
kid   id of the signing key (:func:`contract.signing.key_id`)
jti   token id, random, for revoking one token
r     optional role (``staff``, ``supervisor``); free text checked by the user
====  =====================================================================

Verification (:class:`TokenVerifier`) checks, in order: the shape, a known key id
and its signature, the kind, the store scope, the issue time (not in the future
beyond the clock skew), the expiry **capped by the verifier** (a badge issued for
ten years is still good only ``max_lifetime_s`` after ``iat``), and the revocation
list (:class:`RevocationList`: token ids, and subjects revoked from a time on so a
new badge can be issued after a lost one is revoked). Every refusal is a
:class:`TokenError` whose ``reason`` is a stable machine word.

The private key stays with the issuer (the cloud bridge); kiosks get only public
keys, so a kiosk that is taken apart can verify badges but never make one.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .signing import key_id

TOKEN_PREFIX = "S1"
#: the store scope meaning "every store of the chain"
ANY_STORE = "*"
# Clocks of a kiosk and the bridge drift by seconds, not minutes (NTP); a minute of
# slack keeps a badge issued a moment ago from being "from the future".
CLOCK_SKEW_S = 60
# A token longer than this is not one of ours (and would not fit a small QR anyway);
# refusing early bounds the work a hostile QR code can cause.
MAX_TOKEN_CHARS = 1024

_SUBJECT_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_STORE_RE = re.compile(r"^(\*|[A-Za-z0-9_-]{1,32})$")
_KIND_RE = re.compile(r"^[a-z_]{1,16}$")
_B64_RE = re.compile(r"^[A-Za-z0-9_-]+$")


class TokenError(Exception):
    """A token that does not verify; ``reason`` is a stable word for logs and tests."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Token:
    """The verified claims of a token."""

    kind: str
    subject: str
    store: str
    issued_at: int
    expires_at: int
    key_id: str
    token_id: str
    role: str | None = None
    #: the expiry the verifier applied (``expires_at`` capped by its maximum lifetime)
    effective_expires_at: int = 0

    def claims(self) -> dict[str, Any]:
        """The claims as signed (short keys)."""
        out: dict[str, Any] = {
            "k": self.kind, "sub": self.subject, "st": self.store, "iat": self.issued_at,
            "exp": self.expires_at, "kid": self.key_id, "jti": self.token_id,
        }
        if self.role is not None:
            out["r"] = self.role
        return out


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    if not _B64_RE.match(text):
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64e(raw) != text:  # unused low bits set: one token must have one text form
        raise ValueError("non-canonical base64url")
    return raw


def canonical_payload(claims: Mapping[str, Any]) -> bytes:
    """Canonical JSON of ``claims``: sorted keys, no whitespace, UTF-8."""
    return json.dumps(dict(claims), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def issue_token(
    key: Ed25519PrivateKey,
    *,
    kind: str,
    subject: str,
    store: str = ANY_STORE,
    ttl_s: int,
    role: str | None = None,
    now: float | None = None,
    token_id: str | None = None,
) -> str:
    """A signed token (text) for ``subject`` valid ``ttl_s`` seconds from ``now``.

    Raises:
        ValueError: a kind, subject or store that a verifier would refuse, or ttl <= 0.
    """
    if not _KIND_RE.match(kind):
        raise ValueError("kind must match [a-z_]{1,16}")
    if not _SUBJECT_RE.match(subject):
        raise ValueError("subject must match [A-Za-z0-9_.:-]{1,64}")
    if not _STORE_RE.match(store):
        raise ValueError("store must be '*' or match [A-Za-z0-9_-]{1,32}")
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    iat = int(time.time() if now is None else now)
    token = Token(kind=kind, subject=subject, store=store, issued_at=iat,
                  expires_at=iat + int(ttl_s), key_id=key_id(key),
                  token_id=token_id or secrets.token_hex(8), role=role)
    head = f"{TOKEN_PREFIX}.{_b64e(canonical_payload(token.claims()))}"
    return f"{head}.{_b64e(key.sign(head.encode('ascii')))}"


def looks_like_token(text: str) -> bool:
    """Whether ``text`` has the shape of a token (cheap; says nothing about validity)."""
    return text.startswith(TOKEN_PREFIX + ".") and text.count(".") == 2


@dataclass
class RevocationList:
    """Revoked tokens: by token id, and by subject from a time on.

    ``subjects`` maps a subject to an epoch second: tokens of that subject issued
    at or before it are revoked, so staff whose badge was lost get a new one that works.
    """

    token_ids: set[str] = field(default_factory=set)
    subjects: dict[str, int] = field(default_factory=dict)
    version: int = 0

    def is_revoked(self, token: Token) -> bool:
        """Whether ``token`` is on the list."""
        if token.token_id in self.token_ids:
            return True
        cutoff = self.subjects.get(token.subject)
        return cutoff is not None and token.issued_at <= cutoff

    def to_json(self) -> dict[str, Any]:
        """The list as pushed to kiosks (price book / shadow)."""
        return {"version": self.version, "token_ids": sorted(self.token_ids),
                "subjects": dict(sorted(self.subjects.items()))}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RevocationList:
        """Parse :meth:`to_json` output; ``None`` or ``{}`` is the empty list.

        Raises:
            ValueError: a malformed list (a kiosk keeps its previous list then).
        """
        if not data:
            return cls()
        raw_subjects = data.get("subjects", {})
        raw_ids = data.get("token_ids", [])
        if not isinstance(raw_subjects, Mapping) or not isinstance(raw_ids, list):
            raise ValueError("malformed revocation list: subjects/token_ids shape")
        try:
            ids = {str(t) for t in raw_ids}
            subjects = {str(s): int(v) for s, v in raw_subjects.items()}
            version = int(data.get("version", 0))
        except (TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"malformed revocation list: {err}") from err
        return cls(token_ids=ids, subjects=subjects, version=version)


class TokenVerifier:
    """Verifies tokens against public keys, a lifetime cap and a revocation list.

    Args:
        keys: the public keys trusted (several during a key rotation).
        max_lifetime_s: the longest a token is honoured after its ``iat``, whatever
            its ``exp`` says.
        revocations: the revocation list (replace ``self.revocations`` to update it).
    """

    def __init__(
        self,
        keys: Iterable[Ed25519PublicKey],
        *,
        max_lifetime_s: int,
        revocations: RevocationList | None = None,
    ) -> None:
        self.keys: dict[str, Ed25519PublicKey] = {key_id(k): k for k in keys}
        self.max_lifetime_s = int(max_lifetime_s)
        self.revocations = revocations or RevocationList()

    def verify(
        self,
        text: str,
        *,
        kind: str,
        store: str | None = None,
        now: float | None = None,
    ) -> Token:
        """The token's claims when it is good for ``kind`` at ``store`` now.

        Args:
            text: the scanned text.
            kind: the kind required (a member code is never a staff badge).
            store: the verifying store; a token scoped to another store is refused.
                ``None`` skips the store check (chain-wide services).
            now: epoch seconds (default: the clock).

        Raises:
            TokenError: with ``reason`` one of ``malformed``, ``unknown_key``,
                ``bad_signature``, ``wrong_kind``, ``wrong_store``, ``not_yet_valid``,
                ``expired``, ``revoked``.
        """
        claims, kid, sig, head = self._parse(text)
        pub = self.keys.get(kid)
        if pub is None:
            raise TokenError("unknown_key", kid)
        try:
            pub.verify(sig, head.encode("ascii"))
        except InvalidSignature as err:
            raise TokenError("bad_signature") from err
        token = self._claims_to_token(claims)
        if token.kind != kind:
            raise TokenError("wrong_kind", token.kind)
        if store is not None and token.store not in (ANY_STORE, store):
            raise TokenError("wrong_store", token.store)
        t = time.time() if now is None else now
        if token.issued_at > t + CLOCK_SKEW_S:
            raise TokenError("not_yet_valid")
        effective = min(token.expires_at, token.issued_at + self.max_lifetime_s)
        if t >= effective:
            raise TokenError("expired")
        if self.revocations.is_revoked(token):
            raise TokenError("revoked")
        return Token(**{**token.__dict__, "effective_expires_at": effective})

    @staticmethod
    def _parse(text: str) -> tuple[dict[str, Any], str, bytes, str]:
        if not isinstance(text, str) or len(text) > MAX_TOKEN_CHARS or not looks_like_token(text):
            raise TokenError("malformed", "not an S1 token")
        prefix, payload_b64, sig_b64 = text.split(".")
        try:
            payload = _b64d(payload_b64)
            sig = _b64d(sig_b64)
            claims = json.loads(payload.decode("utf-8"))
        except (ValueError, binascii.Error, UnicodeDecodeError) as err:
            raise TokenError("malformed", "undecodable") from err
        if not isinstance(claims, dict) or len(sig) != 64:
            raise TokenError("malformed", "bad claims or signature length")
        kid = claims.get("kid")
        if not isinstance(kid, str):
            raise TokenError("malformed", "no key id")
        return claims, kid, sig, f"{prefix}.{payload_b64}"

    @staticmethod
    def _claims_to_token(c: dict[str, Any]) -> Token:
        # Checked after the signature: a signed token from our own issuer with a bad
        # field is a bug on our side, still refused rather than half-trusted.
        try:
            token = Token(kind=c["k"], subject=c["sub"], store=c["st"], issued_at=c["iat"],
                          expires_at=c["exp"], key_id=c["kid"], token_id=c["jti"],
                          role=c.get("r"))
        except KeyError as err:
            raise TokenError("malformed", f"missing claim {err}") from err
        ints_ok = all(type(v) is int for v in (token.issued_at, token.expires_at))
        strs_ok = all(isinstance(v, str) for v in (token.kind, token.subject, token.store,
                                                   token.token_id))
        if not (ints_ok and strs_ok) or not _SUBJECT_RE.match(token.subject) \
                or not _STORE_RE.match(token.store) \
                or not (token.role is None or isinstance(token.role, str)):
            raise TokenError("malformed", "claim types")
        return token
