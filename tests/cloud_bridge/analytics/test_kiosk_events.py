"""Kiosk sessions reach the funnel from the events the ingest stored (real wire events)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from cloud_bridge.analytics import service
from cloud_bridge.analytics.kiosk_events import harvest_kiosk_events
from cloud_bridge.analytics.models import BehaviourEvent
from cloud_bridge.ingest import store_events
from contract.wire.events import ORDER_VOIDED, Event

from ..bridge_helpers import order_event


def wire_event(store: str, seq: int, etype: str, data: dict) -> tuple[str, str, bytes]:
    """A kiosk outbox event as it arrives on the store's topic."""
    return (store, "k1", Event(type=etype, store=store, kiosk="k1", seq=seq,
                               data=data).encode())


async def test_paid_and_abandoned_sessions_make_the_funnel(db):
    at = datetime.now(UTC)
    batch = [
        ("s1", "k1", order_event("s1", "k1", 0, "s1-k1-0").encode()),
        ("s1", "k1", order_event("s1", "k1", 1, "s1-k1-1").encode()),
        wire_event("s1", 2, ORDER_VOIDED, {"order_no": "s1-k1-2", "reason": "abandoned cart",
                                           "attempts": 1}),
        wire_event("s1", 3, ORDER_VOIDED, {"order_no": "s1-k1-3", "reason": "cancelled",
                                           "attempts": 0}),
        ("s2", "k1", order_event("s2", "k1", 0, "s2-k1-0").encode()),
    ]
    result = await store_events(db, batch, worker="t", tz="Asia/Shanghai")
    assert not result.rejected, result.rejected
    async with db.session() as s:
        assert await harvest_kiosk_events(s) == 4 + 4 + 4 + 3 + 4
    async with db.session() as s:
        assert await harvest_kiosk_events(s) == 0  # idempotent
        assert await s.scalar(select(func.count()).select_from(BehaviourEvent)) == 19
    day = at.astimezone(service.STORE_TZ).date()
    async with db.session() as s:
        table = await service.metric_table(s, "conversion_funnel",
                                           service.Filters(day, day), by="store")
        kiosk = await service.metric_table(s, "conversion_funnel",
                                           service.Filters(day, day, channel="kiosk"))
    rows = {r["key"]: r for r in table.to_dicts()}
    # s1: two paid, one voided after a payment attempt, one cancelled before paying
    assert (rows["s1"]["sessions"], rows["s1"]["payment_attempted"], rows["s1"]["paid"]) == (
        4, 3, 2)
    assert rows["s1"]["conversion"] == 0.5 and rows["s2"]["conversion"] == 1.0
    assert kiosk["sessions"][0] == 5


async def test_a_session_summary_gives_the_early_funnel_steps(db):
    from datetime import timedelta

    from contract.wire.events import SESSION_SUMMARY, SessionSummaryData

    at = datetime.now(UTC)
    abandoned = SessionSummaryData(session_id="sess-9", started_at=at - timedelta(minutes=3),
                                   ended_at=at, outcome="abandoned", items_scanned=3,
                                   items_removed=1, help_calls=1)
    paid = SessionSummaryData(session_id="sess-10", started_at=at, ended_at=at, outcome="paid",
                              items_scanned=2, payment_attempts=1, order_no="s1-k1-0",
                              payment_methods=["wechat"])
    batch = [("s1", "k1", order_event("s1", "k1", 0, "s1-k1-0").encode()),
             wire_event("s1", 1, SESSION_SUMMARY, abandoned.model_dump(mode="json")),
             wire_event("s1", 2, SESSION_SUMMARY, paid.model_dump(mode="json"))]
    result = await store_events(db, batch, worker="t", tz="Asia/Shanghai")
    assert not result.rejected, result.rejected  # the new type is part of the contract
    async with db.session() as s:
        await harvest_kiosk_events(s)
        steps = sorted((await s.execute(select(BehaviourEvent.session_id, BehaviourEvent.type)
                                        )).all())
    assert ("s1:sess-9", "item_removed") in steps and ("s1:sess-9", "help_called") in steps
    # the paid summary and its order.completed are one session (keyed by the order number)
    assert {sid for sid, _ in steps} == {"s1:sess-9", "s1:s1-k1-0"}
    day = at.astimezone(service.STORE_TZ).date()
    async with db.session() as s:
        table = await service.metric_table(s, "conversion_funnel", service.Filters(day, day))
    assert (table["sessions"][0], table["paid"][0]) == (2, 1)


def summary(session_id: str, outcome: str, start: datetime, seconds: int, **counts) -> dict:
    """A session.summary payload as the kiosk's recorder writes it."""
    from datetime import timedelta

    from contract.wire.events import SessionSummaryData

    return SessionSummaryData(session_id=session_id, started_at=start,
                              ended_at=start + timedelta(seconds=seconds), outcome=outcome,
                              **counts).model_dump(mode="json")


async def test_kiosk_session_kpis_against_a_hand_computed_case(db):
    from contract.wire.events import SESSION_SUMMARY

    at = datetime.now(UTC).replace(microsecond=0)
    batch = [
        wire_event("s1", 0, SESSION_SUMMARY, summary(
            "a", "paid", at, 120, items_scanned=4, items_removed=1, payment_attempts=2,
            payment_methods=["wechat", "alipay"], pay_seconds=20, order_no="s1-k1-9",
            errors={"payment_failed": 1, "unknown_product": 2})),
        wire_event("s1", 1, SESSION_SUMMARY, summary(
            "b", "abandoned", at, 300, items_scanned=2, payment_attempts=1,
            payment_methods=["wechat"], errors={"payment_unknown": 1})),
        wire_event("s1", 2, SESSION_SUMMARY, summary(
            "c", "paid", at, 60, items_scanned=3, items_removed=2, payment_attempts=1,
            payment_methods=["wechat"], pay_seconds=10)),
        wire_event("s2", 0, SESSION_SUMMARY, summary(
            "d", "cancelled", at, 30, items_scanned=1, items_removed=1,
            errors={"unknown_product": 1})),
    ]
    result = await store_events(db, batch, worker="t", tz="Asia/Shanghai")
    assert not result.rejected, result.rejected
    async with db.session() as s:
        await harvest_kiosk_events(s)
    async with db.session() as s:
        await harvest_kiosk_events(s)  # twice: nothing twice
    day = at.astimezone(service.STORE_TZ).date()
    f = service.Filters(day, day)
    async with db.session() as s:
        (all_,) = (await service.metric_table(s, "kiosk_sessions", f)).to_dicts()
        by_method = {r["key"]: r for r in (await service.metric_table(
            s, "kiosk_sessions", f, by="method")).to_dicts()}
        s2 = (await service.metric_table(s, "kiosk_sessions",
                                         service.Filters(day, day, store="s2"))).to_dicts()
        errors = (await service.metric_table(s, "session_errors", f)).to_dicts()
    assert (all_["sessions"], all_["paid"], all_["abandoned"], all_["cancelled"]) == (4, 2, 1, 1)
    assert (all_["paid_rate"], all_["abandon_rate"], all_["avg_items"]) == (0.5, 0.5, 2.5)
    assert all_["removal_rate"] == 0.4 and all_["avg_session_s"] == 127.5
    assert (all_["median_pay_s"], all_["avg_pay_s"], all_["attempts_per_paid"]) == (15, 15, 1.5)
    assert (all_["error_sessions"], all_["error_rate"], all_["errors"]) == (3, 0.75, 5)
    assert {k: r["sessions"] for k, r in by_method.items()} == {
        "alipay": 1, "wechat": 2, "none": 1}
    assert by_method["wechat"]["paid"] == 1 and s2[0]["sessions"] == 1
    assert [(e["key"], e["count"], e["sessions"], e["session_share"]) for e in errors] == [
        ("unknown_product", 3, 2, 0.5), ("payment_failed", 1, 1, 0.25),
        ("payment_unknown", 1, 1, 0.25)]


async def test_the_ingest_refuses_a_summary_outside_the_contract(db):
    from contract.wire.events import SESSION_SUMMARY

    at = datetime.now(UTC)
    good = summary("ok", "paid", at, 5)
    bad = [{**good, "errors": {"134567890123456789": 1}},  # a payment code as an error code
           {**good, "errors": {"declined: 余额不足": 1}},  # free text
           {**good, "payment_methods": ["bitcoin"]}, {**good, "outcome": "stolen"},
           {**good, "items_scanned": -2}]
    batch = [wire_event("s1", i, SESSION_SUMMARY, d) for i, d in enumerate(bad)]
    result = await store_events(db, batch, worker="t", tz="Asia/Shanghai")
    reasons = [r.reason for r in result.rejected[("s1", "k1")]]
    assert len(reasons) == len(bad) and all(r.startswith("data.") for r in reasons), reasons
    async with db.session() as s:
        from cloud_bridge.models import StoredEvent

        assert await s.scalar(select(func.count()).select_from(StoredEvent)) == 0
