"""The cloud re-checks member sales: forged, stale, swapped or overspent member codes
arrive as ``order.completed`` over MQTT (a kiosk's own topic, the real ingest) and are
booked without their member (no points, no stored-value debit), with an ERROR line and
a ``member_sale_refused`` alert; the honest sale beside them is credited."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import aiomqtt
from sqlalchemy import select

from cloud_bridge import rpc
from cloud_bridge.config import BridgeConfig
from cloud_bridge.ingest import Ingest
from cloud_bridge.members import jobs, service
from cloud_bridge.members.member_code import issue_member_code
from cloud_bridge.members.models import MemberRecord, PointsEntry
from cloud_bridge.models import Alert, Order
from cloud_bridge.payments.providers.stored_value import StoredValueProvider
from cloud_bridge.payments.service import PaymentService
from cloud_bridge.security.member_sales import ALERT_KIND, MemberSaleCheck
from contract.signing import generate_signing_key, private_key_pem
from contract.wire import KioskTopics
from contract.wire.base import decode
from contract.wire.events import EventAck, MemberProofData
from kiosk_agent.journal import Journal
from kiosk_agent.link import Link
from kiosk_agent.payments import KioskPayments
from tests.support.link_helpers import mqtt_section

from ..bridge_helpers import order_event

CHAIN = generate_signing_key()
STRANGER = generate_signing_key()
STORE, KIOSK = "s1", "k1"
BALANCE = 5000  # the member's stored value at the bridge (fen)
PAID = 1700  # each test sale's total (bridge_helpers.order_data)


def _config(broker, db_url: str) -> BridgeConfig:
    cfg = BridgeConfig()
    cfg.bridge.worker_id = "members"
    cfg.database.url = db_url
    cfg.mqtt.port = broker.port
    cfg.mqtt.username = None
    cfg.ingest.batch_wait_ms = 200
    cfg.rpc.handler_modules = []
    return cfg


def _sale(seq: int, member_id: str | None, code: str | None, snapshot: tuple | None = None,
          *, stored_value: bool = True, points_redeemed: int = 0, started_ago_s: float = 30,
          kiosk: str = KIOSK):
    """A member's sale paid with stored value taken offline (or WeChat)."""
    ev = order_event(STORE, kiosk, seq, order_no=f"{STORE}-{kiosk}-20260301-{seq:04d}")
    d = ev.data
    d["created_at"] = (datetime.now(UTC) - timedelta(seconds=started_ago_s)).isoformat()
    d["completed_at"] = datetime.now(UTC).isoformat()
    d["member_id"] = member_id
    d["points_redeemed"] = points_redeemed
    assert d["total"] == PAID
    d["tenders"] = [{"method": "stored_value", "amount": PAID, "out_trade_no": f"SV{seq:06d}",
                     "offline": True} if stored_value else
                    {"method": "wechat", "amount": PAID, "out_trade_no": f"WX{seq:06d}"}]
    if code is not None:
        level, points, fen = snapshot or ("gold", 300, BALANCE)
        d["member"] = {"code": code, "level": level, "points": points, "stored_value": fen}
    return ev


def _tampered(member: str) -> str:
    """A richer snapshot pasted under the chain's signature of a poorer one."""
    head, _, sig = issue_member_code(CHAIN, member, "gold", 300, 100).split(".")
    rich = issue_member_code(CHAIN, member, "gold", 300, BALANCE).split(".")[1]
    return f"{head}.{rich}.{sig}"


def _cases(member: str) -> dict[str, object]:
    old = time.time() - 3600
    good = issue_member_code(CHAIN, member, "gold", 300, BALANCE)
    return {
        "honest": _sale(0, member, good),
        "unknown_key": _sale(1, member, issue_member_code(STRANGER, member, "gold", 300,
                                                           BALANCE)),
        "bad_signature": _sale(2, member, _tampered(member)),
        "stale": _sale(3, member, issue_member_code(CHAIN, member, "gold", 300, BALANCE,
                                                    now=old)),
        # A code shown at the start of a 5-minute cart expires before the payment: fine.
        "long_cart": _sale(4, member, issue_member_code(CHAIN, member, "gold", 300, BALANCE,
                                                        now=time.time() - 290),
                           stored_value=False, started_ago_s=300),
        "member_mismatch": _sale(5, member, issue_member_code(CHAIN, "m8", "gold", 300,
                                                               BALANCE)),
        "snapshot_mismatch": _sale(6, member, issue_member_code(CHAIN, member, "regular", 0,
                                                                 BALANCE),
                                   snapshot=("gold", 0, BALANCE)),
        "over_balance": _sale(7, member, issue_member_code(CHAIN, member, "gold", 300, 1000),
                              snapshot=("gold", 300, 1000)),
        "over_points": _sale(8, member, good, stored_value=False, points_redeemed=301),
        "no_member_code": _sale(9, member, None),
        "not_yet_valid": _sale(10, member, issue_member_code(CHAIN, member, "gold", 300,
                                                              BALANCE, now=time.time() + 600)),
    }


async def _publish_all(broker, db, db_url, events, kiosk_id: str = KIOSK
                       ) -> tuple[set[str], dict[str, str]]:
    acked: set[str] = set()
    rejected: dict[str, str] = {}
    async with Ingest(_config(broker, db_url), db) as ingest:
        assert ingest.member_check is not None
        await asyncio.wait_for(ingest.connected.wait(), 10)
        topics = KioskTopics(STORE, kiosk_id)
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"{STORE}-{kiosk_id}",
                                  protocol=aiomqtt.ProtocolVersion.V5) as kiosk:
            await kiosk.subscribe(topics.events_ack, qos=1)
            for ev in events:
                await kiosk.publish(topics.events, ev.encode(), qos=1)

            async def listen() -> None:
                async for msg in kiosk.messages:
                    ack = decode(EventAck, msg.payload)
                    acked.update(ack.acked)
                    rejected.update({r.event_id: r.reason for r in ack.rejected})
                    if len(acked) + len(rejected) >= len(events):
                        return

            await asyncio.wait_for(listen(), 20)
    return acked, rejected


async def test_member_sales_are_checked_again_at_ingest(broker, db, db_url, monkeypatch,
                                                        caplog):
    monkeypatch.setenv("BRIDGE_MEMBER_SIGNING_KEY", private_key_pem(CHAIN).decode())
    async with db.session() as s:
        member, _ = await service.register(s, appid="wx1", openid="o-m7")
        await s.execute(MemberRecord.__table__.update().where(MemberRecord.id == member.id)
                        .values(registered_at=datetime.now(UTC) - timedelta(days=1)))
    m7 = member.id
    await StoredValueProvider(db).top_up(m7, BALANCE, "counter-1")
    cases = _cases(m7)
    caplog.set_level(logging.ERROR, "cloud_bridge.ingest.effects")
    acked, rejected = await _publish_all(broker, db, db_url, list(cases.values()))
    # Every sale is stored and acked: the goods left the shop and money was taken.
    assert rejected == {} and acked == {ev.event_id for ev in cases.values()}

    async with db.read() as s:
        orders = {o.order_no: o for o in (await s.scalars(select(Order))).all()}
        alerts = {a.order_no: a for a in (await s.scalars(
            select(Alert).where(Alert.kind == ALERT_KIND))).all()}
    credited = {"honest", "long_cart"}
    for name, ev in cases.items():
        order = orders[ev.data["order_no"]]
        if name in credited:
            assert order.member_id == m7, name
            assert order.order_no not in alerts, name
        else:
            assert order.member_id is None, name  # booked without the member
            alert = alerts[order.order_no]
            assert alert.detail["reason"] == name and alert.detail["member_id"] == m7, (
                name, alert.detail)
            assert (alert.store, alert.kiosk) == (STORE, KIOSK)
            assert f"({name})" in caplog.text, name
    assert len(alerts) == len(cases) - len(credited)
    assert "S1." not in caplog.text  # a member code is a bearer token: never logged

    # Stored value: only the honest sale's offline tender was taken from the member.
    assert await StoredValueProvider(db).balance(m7) == BALANCE - PAID
    # Points: the member earns for the credited sales only.
    async with db.session() as s:
        await jobs.sync_orders(s)
    async with db.read() as s:
        sources = set((await s.scalars(select(PointsEntry.source_id).where(
            PointsEntry.member_id == m7, PointsEntry.kind == "accrue"))).all())
        points = (await s.get(MemberRecord, m7)).points
    assert sources == {cases[n].data["order_no"] for n in credited} and points > 0


async def test_a_code_replayed_at_another_kiosk_is_refused(broker, db, db_url, monkeypatch,
                                                          caplog):
    monkeypatch.setenv("BRIDGE_MEMBER_SIGNING_KEY", private_key_pem(CHAIN).decode())
    await StoredValueProvider(db).top_up("m7", BALANCE, "counter-1")
    code = issue_member_code(CHAIN, "m7", "gold", 300, BALANCE)
    first = _sale(0, "m7", code, stored_value=False)
    again_here = _sale(1, "m7", code, stored_value=False)  # the same member, a second cart
    elsewhere = _sale(0, "m7", code, kiosk="k2")  # a screenshot shown at another kiosk
    await _publish_all(broker, db, db_url, [first, again_here])
    caplog.set_level(logging.ERROR, "cloud_bridge.ingest.effects")
    acked, _ = await _publish_all(broker, db, db_url, [elsewhere], kiosk_id="k2")
    assert acked == {elsewhere.event_id}
    async with db.read() as s:
        members = dict((await s.execute(select(Order.order_no, Order.member_id))).all())
        alert = (await s.scalars(select(Alert).where(Alert.kind == ALERT_KIND))).one()
    assert members == {first.data["order_no"]: "m7", again_here.data["order_no"]: "m7",
                       elsewhere.data["order_no"]: None}
    assert (alert.kiosk, alert.detail["reason"]) == ("k2", "replayed")
    assert f"first used at {STORE}/{KIOSK}" in alert.detail["detail"]
    assert await StoredValueProvider(db).balance("m7") == BALANCE  # not debited at k2
    assert "(replayed)" in caplog.text


def test_without_a_member_key_the_gap_is_logged(db_url, monkeypatch, caplog, tmp_path):
    monkeypatch.delenv("BRIDGE_MEMBER_SIGNING_KEY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    caplog.set_level(logging.WARNING, "cloud_bridge.security.member_sales")
    cfg = BridgeConfig()
    cfg.database.url = db_url
    assert MemberSaleCheck.from_config(cfg) is None
    assert "member sales are not re-checked" in caplog.text


async def test_online_stored_value_needs_the_members_own_code(broker, db, db_url, monkeypatch,
                                                              tmp_path):
    """payment.charge over MQTT from a real kiosk Link: a kiosk's credentials alone cannot
    spend a member's balance; the member's own, current code can."""
    monkeypatch.setenv("BRIDGE_MEMBER_SIGNING_KEY", private_key_pem(CHAIN).decode())
    await StoredValueProvider(db).top_up("m7", BALANCE, "counter-1")
    cfg = _config(broker, db_url)
    rpc.load_handler_modules(["cloud_bridge.payments.rpc"])  # as the app does at start
    services = SimpleNamespace(payments=PaymentService(db, {"stored_value":
                                                            StoredValueProvider(db)}))

    def proof(code: str) -> MemberProofData:
        return MemberProofData(code=code, level="gold", points=300, stored_value=BALANCE)

    shown_long_ago = time.time() - 3600
    cases = {
        "no_code": None,
        "another_member": proof(issue_member_code(CHAIN, "m8", "gold", 300, BALANCE)),
        "another_chain": proof(issue_member_code(STRANGER, "m7", "gold", 300, BALANCE)),
        "stale": proof(issue_member_code(CHAIN, "m7", "gold", 300, BALANCE,
                                         now=shown_long_ago)),
        "own_code": proof(issue_member_code(CHAIN, "m7", "gold", 300, BALANCE)),
    }
    outcomes = {}
    async with Ingest(cfg, db, services=services) as ingest, \
            Journal(tmp_path / "journal.db", STORE, KIOSK) as journal:
        await asyncio.wait_for(ingest.connected.wait(), 10)
        link = Link(mqtt_section(broker.port), STORE, KIOSK)
        async with link:
            await asyncio.wait_for(link.connected.wait(), 10)
            gw = KioskPayments(link, journal, charge_timeout_s=10)
            for n, (name, member_proof) in enumerate(cases.items(), start=1):
                no = f"{STORE}-{KIOSK}-20260301-{n:04d}"
                outcomes[name] = await gw.charge(no, f"{no}-1", "stored_value", PAID, "CNY",
                                                 None, member_id="m7", member_proof=member_proof)
    for name, out in outcomes.items():
        if name == "own_code":
            assert out.status == "paid", out
        else:
            assert (out.status, out.reason) == ("failed", "member_code_refused"), (name, out)
            assert "会员码" in out.message_zh and "Member code" in out.message_en
    assert await StoredValueProvider(db).balance("m7") == BALANCE - PAID  # charged once
