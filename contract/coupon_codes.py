"""What the kiosk and the cloud agree on about coupon QR codes and offline coupon slots.

A **coupon code** is the QR the mini-program's coupon wallet shows for one claimed
coupon: a :mod:`contract.tokens` token of kind :data:`COUPON_KIND`, signed by the chain's
member key (the same key as member codes; the kind keeps them apart). Its subject is
the coupon id, its store scope the template's store (``*``: chain-wide) and its ``r``
claim ``<owner>/<definition>/<valid_until>``: the member who holds it, the coupon
definition in the price book (``tpl<template id>``) and the coupon's own end (epoch s).
It is short-lived like a member code: a screenshot passed around is useless in minutes.

A **coupon slot** is one of a kiosk's small pool of pre-reserved offline redemptions:
a token of kind :data:`SLOT_KIND` whose subject is the kiosk and whose store scope is
its store, reserved by the bridge for that kiosk (``mkt_coupon_slots``) and shipped in
the kiosk's signed shadow. Offline, a kiosk accepts a coupon code only by spending one
of its slots; the sale carries both (:class:`contract.wire.events.CouponProofData`) and
the cloud reconciles them once: the slot must be this kiosk's and unused, the coupon
unused (the same coupon spent at two kiosks is refused for the second and flagged).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .pricebook import Coupon

COUPON_KIND = "coupon"
SLOT_KIND = "coupon_slot"
# As long as a member code: walk from the phone to the camera and retry once.
COUPON_CODE_MAX_AGE_S = 180
# A slot is good for a week: a kiosk offline longer than that has bigger problems, and
# a stolen SD card's slots are worthless soon after.
COUPON_SLOT_MAX_AGE_S = 7 * 24 * 3600
# Slots a kiosk holds: the most coupons it may take while cut off (each one may turn
# out to be spent elsewhere: a loss the chain bounds here).
COUPON_POOL_SIZE = 5

_ROLE_RE = re.compile(r"^([A-Za-z0-9_-]{1,32})/([A-Za-z0-9_.:-]{1,64})/([0-9]{1,12})$")


@dataclass(frozen=True, slots=True)
class CouponClaim:
    """Who holds a coupon, which definition it is, and when it ends."""

    owner: str
    definition: str
    valid_until: int

    def role(self) -> str:
        """The token's ``r`` claim."""
        return f"{self.owner}/{self.definition}/{self.valid_until}"


def parse_coupon_role(role: str | None) -> CouponClaim | None:
    """The claim in a coupon code's ``r``, or ``None`` when it is not one."""
    m = _ROLE_RE.match(role or "")
    if m is None:
        return None
    return CouponClaim(m.group(1), m.group(2), int(m.group(3)))


def priced_instance(definition: Coupon, coupon_id: str, claim: CouponClaim) -> Coupon:
    """The coupon the pricing engine applies for one shopper's coupon ``coupon_id``.

    Built the same way at the kiosk (from the price book's definition, offline) and in
    the cloud (from the template, :func:`cloud_bridge.marketing.kiosk.definition_of`), so
    both price a cart with it to the same fen. Every claimed coupon is a member's.
    """
    end = datetime.fromtimestamp(claim.valid_until, tz=UTC)
    return definition.model_copy(update={"code": coupon_id, "member_only": True, "end": end})
