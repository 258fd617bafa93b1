"""What a scanned code is: product, payment code, member code or staff badge.

Pure and light (stdlib only) so that the cloud and the TUI can import it too.

Rules (false reads are worse than misses at a till, so anything that does not
match a rule exactly is ``"unknown"`` and the agent ignores it):

* **product**: EAN-13, EAN-8, UPC-A (12 digits) and UPC-E (8 digits) with a valid
  check digit; Code 128 / Code 39 shop codes of 4-32 printable ASCII characters,
  except all-digit strings of 16-24 digits (that range belongs to payment codes,
  so a misread payment code can never turn into a product).
* **wechat**: WeChat Pay payment code (付款码): 18 digits starting with 10-15.
* **alipay**: Alipay payment code: 16-24 digits starting with 25-30.
* **member**: a member code shown by the mini-program: a signed token of kind ``member``
  (``S1.<payload>.<sig>``, :mod:`contract.tokens`, Ed25519 by the bridge), routed here by
  its unverified kind and verified by the kiosk with the chain's ``member_pubkey``
  (``kiosk_agent.members``). The older HMAC format, accepted by kiosks only until they
  have ``member_pubkey``::

      M1.<member_id>.<expires_at>.<mac>

  ``member_id`` is 1-32 of ``[A-Za-z0-9_-]``, ``expires_at`` integer epoch seconds,
  ``mac`` the first 16 bytes of HMAC-SHA256(key, "M1.<member_id>.<expires_at>")
  in unpadded base64url (22 characters). The key is the secret
  ``member_code_key`` (``load_secret``; env ``KIOSK_MEMBER_CODE_KEY``), shared
  with the cloud bridge that issues the codes. :func:`make_member_code` creates
  one (the demo and tests use it). An expired or badly signed token is unknown.
* **coupon**: a coupon QR from the mini-program's coupon wallet: a signed token of kind
  ``coupon`` (:mod:`contract.coupon_codes`), routed by its unverified kind like a member
  code and verified by the kiosk (``kiosk_agent.coupons``).
* **staff**: a staff badge: a signed token of kind ``staff`` (QR, ``S1.<payload>.<sig>``,
  :mod:`contract.tokens`). The kind is read unverified here, only to route the scan: the
  kiosk verifies the signature, store, expiry and revocation before it accepts the badge
  (``kiosk_agent.badges``). The old unsigned ``STAFF:<staff_id>`` text is still routed
  as ``staff`` so that the kiosk can tell staff it is no longer accepted.

Payment codes are one-time secrets: use :func:`mask_code` (or
:func:`display_text`) whenever one would reach a log line or a file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Literal

from .tenders import SCANNED_CODE_TENDERS

CodeKind = Literal["product", "wechat", "alipay", "member", "coupon", "staff", "unknown"]

PAYMENT_KINDS: frozenset[str] = SCANNED_CODE_TENDERS
#: kinds whose text is a secret (payment codes, member bearer tokens)
SECRET_KINDS: frozenset[str] = PAYMENT_KINDS | {"member", "coupon"}

# Symbology names used across drivers (decoders normalise to these).
EAN13 = "EAN13"
EAN8 = "EAN8"
UPCA = "UPCA"
UPCE = "UPCE"
CODE128 = "CODE128"
CODE39 = "CODE39"
QRCODE = "QRCODE"
#: symbology unknown (e.g. a serial scanner without an AIM prefix)
UNKNOWN_SYMBOLOGY = ""

LINEAR_SYMBOLOGIES: frozenset[str] = frozenset({EAN13, EAN8, UPCA, UPCE, CODE128, CODE39})
EAN_UPC: frozenset[str] = frozenset({EAN13, EAN8, UPCA, UPCE})

MEMBER_PREFIX = "M1"
MEMBER_MAC_BYTES = 16
STAFF_PREFIX = "STAFF:"
MEMBER_CODE_SECRET = "member_code_key"

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_DIGITS_RE = re.compile(r"^[0-9]+$")
_SHOP_CODE_RE = re.compile(r"^[\x21-\x7e]{4,32}$")
_MEMBER_RE = re.compile(r"^M1\.([A-Za-z0-9_-]{1,32})\.([0-9]{1,12})\.([A-Za-z0-9_-]{22})$")


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for ``body`` (the digits without the check digit)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = ord(ch) - 48
        total += d * 3 if i % 2 == 0 else d
    return (10 - total % 10) % 10


def valid_gtin(code: str) -> bool:
    """True for an 8/12/13/14-digit GTIN (EAN-8, UPC-A, EAN-13, ITF-14) with a good check digit."""
    if len(code) not in (8, 12, 13, 14) or not _DIGITS_RE.match(code):
        return False
    return gtin_check_digit(code[:-1]) == int(code[-1])


def upce_to_upca(code: str) -> str | None:
    """Expand an 8-digit UPC-E (number system 0/1) to its 12-digit UPC-A, or None."""
    if len(code) != 8 or not _DIGITS_RE.match(code) or code[0] not in "01":
        return None
    ns, d, check = code[0], code[1:7], code[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return ns + body + check


def valid_upce(code: str) -> bool:
    """True for an 8-digit UPC-E whose expanded UPC-A has a good check digit."""
    upca = upce_to_upca(code)
    return upca is not None and valid_gtin(upca)


def payment_kind(text: str) -> CodeKind | None:
    """``"wechat"``/``"alipay"`` when ``text`` follows a payment-code rule, else None."""
    if not _DIGITS_RE.match(text):
        return None
    prefix = int(text[:2]) if len(text) >= 2 else -1
    if len(text) == 18 and 10 <= prefix <= 15:
        return "wechat"
    if 16 <= len(text) <= 24 and 25 <= prefix <= 30:
        return "alipay"
    return None


def looks_like_payment_code(text: str) -> bool:
    """All digits, 16-24 long: the shape of a payment code, valid or not."""
    return bool(_DIGITS_RE.match(text)) and 16 <= len(text) <= 24


# --- member codes ---------------------------------------------------------------


@dataclass(frozen=True)
class MemberCode:
    """A verified member code."""

    member_id: str
    expires_at: int


def _member_mac(key: bytes, member_id: str, expires_at: int) -> str:
    msg = f"{MEMBER_PREFIX}.{member_id}.{expires_at}".encode()
    digest = hmac.new(key, msg, hashlib.sha256).digest()[:MEMBER_MAC_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _key_bytes(key: str | bytes) -> bytes:
    return key.encode() if isinstance(key, str) else key


def make_member_code(
    member_id: str, key: str | bytes, ttl_s: int = 60, now: float | None = None
) -> str:
    """Create a member code ``M1.<member_id>.<expires_at>.<mac>`` valid for ``ttl_s``."""
    if not _ID_RE.match(member_id):
        raise ValueError("member_id must match [A-Za-z0-9_-]{1,32}")
    expires_at = int((time.time() if now is None else now) + ttl_s)
    mac = _member_mac(_key_bytes(key), member_id, expires_at)
    return f"{MEMBER_PREFIX}.{member_id}.{expires_at}.{mac}"


def verify_member_code(
    text: str, key: str | bytes | None, now: float | None = None
) -> MemberCode | None:
    """The member in a member code when its MAC is good and it has not expired, else None."""
    m = _MEMBER_RE.match(text)
    if m is None or not key:
        return None
    member_id, expires_s, mac = m.group(1), m.group(2), m.group(3)
    expires_at = int(expires_s)
    if not hmac.compare_digest(mac, _member_mac(_key_bytes(key), member_id, expires_at)):
        return None
    if (time.time() if now is None else now) > expires_at:
        return None
    return MemberCode(member_id, expires_at)


def token_kind(text: str) -> str | None:
    """The unverified ``k`` claim of an ``S1.<payload>.<sig>`` token (contract.tokens), or
    None. Stdlib only, to route a scan; the token is verified where it is used."""
    parts = text.split(".")
    if len(text) > 1024 or len(parts) != 3 or parts[0] != "S1" or not parts[1]:
        return None
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    kind = claims.get("k") if isinstance(claims, dict) else None
    return kind if isinstance(kind, str) else None


def staff_id_of(text: str) -> str | None:
    """The staff id in a badge ``STAFF:<id>``, else None."""
    if text.startswith(STAFF_PREFIX) and _ID_RE.match(text[len(STAFF_PREFIX):]):
        return text[len(STAFF_PREFIX):]
    return None


# --- classification -------------------------------------------------------------


def _product_ok(text: str, symbology: str) -> bool:
    if symbology in (EAN13, EAN8, UPCA):
        expected = {EAN13: 13, EAN8: 8, UPCA: 12}[symbology]
        return len(text) == expected and valid_gtin(text)
    if symbology == UPCE:
        return valid_upce(text)
    if symbology in (CODE128, CODE39):
        return bool(_SHOP_CODE_RE.match(text)) and not looks_like_payment_code(text)
    if symbology == UNKNOWN_SYMBOLOGY:
        # A scanner that does not say the symbology: only self-checking GTINs count.
        return len(text) in (8, 12, 13) and valid_gtin(text)
    return False


def classify(
    text: str,
    symbology: str = UNKNOWN_SYMBOLOGY,
    *,
    member_key: str | bytes | None = None,
    now: float | None = None,
) -> CodeKind:
    """The kind of a scanned code (see the module docstring for the rules).

    Args:
        text: the decoded text.
        symbology: one of the symbology constants here (``""`` when unknown).
        member_key: HMAC key for member codes; without one a member code is unknown.
        now: epoch seconds for the member-code expiry check (default: now).
    """
    symbology = (symbology or "").upper()
    if symbology == "UNKNOWN":
        symbology = UNKNOWN_SYMBOLOGY
    # Codes are short; a signed staff badge (contract.tokens) is under 300 characters.
    if not text or len(text) > 512:
        return "unknown"
    if symbology not in EAN_UPC:
        pay = payment_kind(text)
        if pay is not None and symbology in (CODE128, QRCODE, UNKNOWN_SYMBOLOGY):
            return pay
        if text.startswith(MEMBER_PREFIX + ".") and symbology in (QRCODE, CODE128, ""):
            return "member" if verify_member_code(text, member_key, now) else "unknown"
        if staff_id_of(text) is not None and symbology in (QRCODE, CODE128, CODE39, ""):
            return "staff"
        if symbology in (QRCODE, CODE128, "") and token_kind(text) == "staff":
            return "staff"
        # Issue 13: a signed member code (contract.tokens, kind "member") is routed as
        # "member" and verified where it is used (kiosk_agent.members, chain public key).
        if symbology in (QRCODE, CODE128, "") and token_kind(text) == "member":
            return "member"
        # A coupon from the mini-program's wallet (contract.coupon_codes), verified by
        # the kiosk with the same chain key (kiosk_agent.coupons).
        if symbology in (QRCODE, CODE128, "") and token_kind(text) == "coupon":
            return "coupon"
    if _product_ok(text, symbology):
        return "product"
    return "unknown"


def mask_code(text: str) -> str:
    """Mask a secret code for logs: at most the first 4 and last 2 characters remain.

    ``mask_code("134567890123456712") == "1345************12"``; strings shorter than
    10 characters are masked completely.
    """
    n = len(text)
    if n < 10:
        return "*" * n
    return text[:4] + "*" * (n - 6) + text[-2:]


def display_text(text: str, kind: str) -> str:
    """The text as it may appear in a log line or on screen for staff.

    Payment and member codes are masked; so is anything that merely looks like a
    payment code (a misread one is still somebody's money).
    """
    if kind in SECRET_KINDS or looks_like_payment_code(text) or text.startswith("M1."):
        return mask_code(text)
    return text
