"""Ingest validation: decode one kiosk event and refuse what cannot be accepted.

A refused event gets a :class:`~contract.wire.events.Rejection` with the reason
(the kiosk dead-letters it); an event whose id cannot even be read is dropped
with a warning, since there is nothing to reject it by.
"""

from __future__ import annotations

import json
import logging

from pydantic import ValidationError

from contract.numbers import NumberError, cloud_order_no
from contract.wire.base import WireError, decode, validation_reason
from contract.wire.events import (
    EVENT_TYPES,
    ORDER_COMPLETED,
    SESSION_SUMMARY,
    Event,
    OrderCompletedData,
    Rejection,
    SessionSummaryData,
)
from contract.wire.staff import STAFF_EVENT_TYPES

from .bounds import bounds_problem

log = logging.getLogger(__name__)


def _event_id_of(payload: bytes) -> str | None:
    """Best effort: the event id of a payload that did not validate (for the rejection)."""
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(obj, dict) and isinstance(obj.get("event_id"), str):
        eid = obj["event_id"]
        return eid if 0 < len(eid) <= 64 else None
    return None


def validate_event(
    store: str, kiosk: str, payload: bytes
) -> tuple[Event | None, OrderCompletedData | None, Rejection | None]:
    """Decode one event from ``store``/``kiosk``'s topic; a rejection if it cannot be accepted."""
    try:
        ev = decode(Event, payload)
    except WireError as err:
        eid = _event_id_of(payload)
        if eid is None:
            log.warning("unreadable event from %s/%s dropped: %s", store, kiosk, err.reason)
            return None, None, None
        return None, None, Rejection(event_id=eid, reason=err.reason)
    if (ev.store, ev.kiosk) != (store, kiosk):
        return None, None, Rejection(
            event_id=ev.event_id,
            reason=f"event for {ev.store}/{ev.kiosk} published on {store}/{kiosk}'s topic")
    if ev.type not in EVENT_TYPES and ev.type not in STAFF_EVENT_TYPES:
        return None, None, Rejection(event_id=ev.event_id, reason=f"unknown event type {ev.type!r}")
    data = None
    if ev.type == ORDER_COMPLETED:
        try:
            data = OrderCompletedData.model_validate(ev.data)
        except ValidationError as err:
            return None, None, Rejection(event_id=ev.event_id,
                                         reason=f"data.{validation_reason(err)}")
        # Chain-wide numbers (issue 11): a legacy {kiosk}-{day}-{seq} gets its store in
        # front; a number naming another store or kiosk is refused, never stored as theirs.
        try:
            order_no = cloud_order_no(store, kiosk, data.order_no)
        except NumberError as err:
            log.warning("order.completed %s from %s/%s refused: %s", ev.event_id, store, kiosk,
                        err)
            return None, None, Rejection(event_id=ev.event_id, reason=f"data.order_no: {err}")
        if order_no != data.order_no:  # a copy only when the number changes
            data = data.model_copy(update={"order_no": order_no})
        problem = bounds_problem(ev, data)
        if problem is not None:  # would not fit the bridge's columns: refused alone
            log.warning("order.completed %s from %s/%s refused: %s", ev.event_id, store, kiosk,
                        problem)
            return None, None, Rejection(event_id=ev.event_id, reason=problem)
        problem = sale_arithmetic_problem(data)
        if problem is not None:
            log.warning("order.completed %s from %s/%s refused: %s", ev.event_id, store, kiosk,
                        problem)
            return None, None, Rejection(event_id=ev.event_id, reason=f"data.{problem}")
    else:
        if ev.type == SESSION_SUMMARY:  # counters and codes only: anything else is refused
            try:
                SessionSummaryData.model_validate(ev.data)
            except ValidationError as err:
                return None, None, Rejection(event_id=ev.event_id,
                                             reason=f"data.{validation_reason(err)}")
        problem = bounds_problem(ev, None)
        if problem is not None:
            log.warning("%s %s from %s/%s refused: %s", ev.type, ev.event_id, store, kiosk,
                        problem)
            return None, None, Rejection(event_id=ev.event_id, reason=problem)
    return ev, data, None


def sale_arithmetic_problem(d: OrderCompletedData) -> str | None:
    """Why a sale's amounts do not add up (lines vs totals vs tenders), or ``None``.

    The kiosk's pricing and ``build_order`` guarantee these; a sale that breaks them
    is broken or forged and must not become revenue, stock moves or points.
    """
    for ln in d.lines:
        if ln.amount != ln.list_amount - ln.discount:
            return (f"lines.{ln.line_no}.amount: {ln.amount} is not list_amount "
                    f"{ln.list_amount} - discount {ln.discount}")
    subtotal = sum(ln.list_amount for ln in d.lines)
    if d.subtotal != subtotal:
        return f"subtotal: {d.subtotal} is not the lines' list amounts {subtotal}"
    discounts = sum(ln.discount for ln in d.lines)
    if d.discount_total != discounts:
        return f"discount_total: {d.discount_total} is not the lines' discounts {discounts}"
    if d.total != d.subtotal - d.discount_total:
        return f"total: {d.total} is not subtotal - discount_total {d.subtotal - d.discount_total}"
    for i, t in enumerate(d.tenders):
        if t.currency != d.currency:
            return f"tenders.{i}.currency: {t.currency} in a sale in {d.currency}"
    paid = sum(t.amount for t in d.tenders)
    if paid != d.total:
        return f"tenders: pay {paid}, the total is {d.total}"
    if d.points_earned < 0 or d.points_redeemed < 0:
        return "points_earned/points_redeemed: negative"
    for i, v in enumerate(d.vat):
        if min(v.gross, v.net, v.tax) < 0:
            return f"vat.{i}: negative amount"
    return None


def same_event(a: bytes | str, b: bytes | str) -> bool:
    """Whether two payloads of one event id say the same (a resend, not a forgery)."""
    if a == b:
        return True
    try:
        return json.loads(a) == json.loads(b)
    except (ValueError, RecursionError):
        return False
