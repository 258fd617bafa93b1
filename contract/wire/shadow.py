"""Device shadow: desired configuration (cloud, retained) and reported state (kiosk, retained)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import Field

from .base import WireMessage, utcnow


class ShadowDesired(WireMessage):
    """Desired configuration of ONE kiosk, signed by the bridge like a command.

    The signature (:func:`contract.signing.sign_shadow`) covers every field but ``sig``,
    the target ``store``/``kiosk`` included: a desired state for one kiosk cannot be
    replayed to another, and nobody without the bridge's key (store staff with broker
    credentials, a stolen kiosk) can raise a kiosk's offline money limits.
    """

    version: int = Field(ge=1, le=2**31 - 1,
                         description="monotonic; an older or equal version is refused")
    config: dict[str, Any] = Field(default_factory=dict)
    ts: datetime = Field(default_factory=utcnow)
    store: str | None = Field(default=None, max_length=64, description="the target kiosk")
    kiosk: str | None = Field(default=None, max_length=64)
    key_id: str | None = Field(default=None, max_length=64)
    sig: str | None = Field(default=None, max_length=200)
    staff_revocations: dict[str, Any] | None = Field(
        default=None, description="the chain's staff badge revocation list "
        "(contract.pricebook.StaffRevocations); absent: the kiosk keeps the one it has")
    coupon_pool: list[str] | None = Field(
        default=None, max_length=50,
        description="this kiosk's offline coupon slots (contract.coupon_codes, signed "
        "tokens); absent: the kiosk keeps the pool it has")

    def signing_bytes(self) -> bytes:
        """Canonical bytes the signature covers (sorted keys, no spaces, no ``sig``).

        An absent revocation list is left out, so states signed before the field existed
        still verify."""
        body = self.model_dump(mode="json", exclude={"sig"})
        for optional in ("staff_revocations", "coupon_pool"):
            if body.get(optional) is None:
                body.pop(optional, None)
        return json.dumps(body, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()


class ShadowReported(WireMessage):
    applied_version: int | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    revocations_version: int | None = Field(
        default=None, description="version of the staff revocation list the kiosk holds")
    refused_version: int | None = None
    error: str | None = None
    ts: datetime = Field(default_factory=utcnow)


class CatalogPointer(WireMessage):
    """Retained per store: the price book the kiosks should sell on."""

    version: str = Field(min_length=1, max_length=64)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    url: str | None = Field(default=None, description="HTTP fetch from the bridge")
    ts: datetime = Field(default_factory=utcnow)
