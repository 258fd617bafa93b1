"""扫码支付 at a kiosk, end to end: a real agent (built like ``kiosk-agent run``: MQTT link,
file printer, journal) shows the ``KIOSK:PAY:WECHAT_QR`` card; the real bridge app makes
the QR through the WeChat sandbox over ``payment.native`` on a real Mosquitto; the QR is
read back from the printed bytes and paid the way WeChat does (the sandbox's scan).

Paid; never paid (closed at WeChat, nothing charged); the link lost after the QR was
printed (resolved once, whether the shopper paid meanwhile or not); and what must be
refused (offline, no printer, a payment code while the QR is open, a second QR)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from cloud_bridge.app import create_app
from cloud_bridge.models import Order
from cloud_bridge.payments.models import Payment
from kiosk_agent import assembly, native_pay
from kiosk_agent.agent import build_agent
from kiosk_agent.checkout import Refusal, State
from kiosk_agent.config import AgentConfig
from kiosk_agent.qr_sale import qr_sale
from tests.cloud_bridge.test_payments_api import payments_config
from tests.support.link_helpers import shrink_timings
from tests.support.sockets import bound_socket, port_of
from tests.support.waiting import until

pytestmark = [pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
              pytest.mark.timeout(90)]
WATER = "6921168509256"  # 农夫山泉 550ml, 2.00 in the example price book
BOOK = Path(__file__).resolve().parents[3] / "config" / "pricebook.example.json"
QR = re.compile(rb"weixin://wxpay/bizpayurl\?pr=[A-Za-z0-9_\-]+")
CODE = "134567890123456789"


@pytest.fixture
async def bridge(db, db_url, broker, sandbox, tmp_path, monkeypatch):
    """The bridge app on a real port: MQTT on the test broker, WeChat from the sandbox."""
    shrink_timings(monkeypatch)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(sandbox.manifest))
    cfg = payments_config(db_url, manifest)
    sock = bound_socket()  # held until the site listens on it: no other bind can take it
    port = port_of(sock)
    cfg.payments.jsapi_notify_url = f"http://127.0.0.1:{port}/api/v1/pay/notify/wechat"
    cfg.payments.mp_close_interval_s = 0
    cfg.mqtt.enabled, cfg.mqtt.port, cfg.mqtt.username = True, broker.port, ""
    cfg.mqtt.reconnect_min_s, cfg.mqtt.session_expiry_s = 0.1, 0
    # Back soon after the broker is (the doubling reached 3.2 s in a test's offline spell
    # and the kiosk's settle request then waited for the bridge).
    cfg.mqtt.reconnect_max_s = 0.4
    cfg.bridge.worker_id = f"native-{port}"
    cfg.rpc.handler_modules = ["cloud_bridge.payments.rpc_handlers"]
    runner = web.AppRunner(create_app(cfg, db=db))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
            async def mqtt_up() -> bool:
                async with http.get("/api/v1/health") as r:
                    return (await r.json())["mqtt"] is True

            async def wait_mqtt() -> None:
                await until(mqtt_up, 15, what="the bridge's MQTT connection")

            await wait_mqtt()
            yield SimpleNamespace(db=db, sandbox=sandbox, wait_mqtt=wait_mqtt)
    finally:
        await runner.cleanup()


def kiosk_config(tmp_path: Path, port: int) -> AgentConfig:
    return AgentConfig.model_validate({
        "kiosk": {"store_id": "s1", "kiosk_id": "k1"},
        "journal": {"path": str(tmp_path / "journal.db"), "seed_price_book": str(BOOK)},
        "mqtt": {"host": "127.0.0.1", "port": port},
        "camera": {"kind": "none"}, "display": {"kind": "none"},
        "printer": {"kind": "file", "file_path": str(tmp_path / "printer.bin")},
        "payments": {"charge_timeout_s": 3, "settle_timeout_s": 20, "qr_wait_s": 30},
        "control": {"socket_path": str(tmp_path / "control.sock"), "socket_group": None},
    })


@contextlib.asynccontextmanager
async def running(cfg: AgentConfig):
    """The agent of ``cfg`` running (like ``kiosk-agent run``) until the block ends."""
    agent = build_agent(cfg)
    task = asyncio.create_task(agent.run())
    printer = Path(cfg.printer.file_path)
    try:
        await asyncio.wait_for(agent.started.wait(), 10)
        await asyncio.wait_for(agent.runtime.link.connected.wait(), 10)
        # A request sent while the bridge re-subscribes after a broker restart is lost:
        # ask again soon rather than after the production deadline.
        agent.payments.settle_rpc_timeout_s, agent.payments.settle_retry_s = 2.0, 0.2
        agent.printed = lambda: printer.read_bytes() if printer.exists() else b""
        yield agent
    finally:
        agent.stop()
        await asyncio.wait_for(task, 20)


@pytest.fixture
async def kiosk(tmp_path, broker, monkeypatch):
    """A real agent s1/k1 (MQTT on, a file printer) with short QR polls."""
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(native_pay, "POLL_S", 0.1)
    monkeypatch.setattr(native_pay, "QUERY_S", 0.5)
    async with running(kiosk_config(tmp_path, broker.port)) as agent:
        yield agent


async def card(agent, text: str) -> None:
    """The shopper shows an action card to the camera (what ScanComponent does with it)."""
    await assembly.ScanComponent._action(SimpleNamespace(agent=agent), text)


async def qr_printed(agent) -> str:
    """The QR on the slip the printer printed: what the shopper's phone scans."""
    await until(lambda: QR.search(agent.printed()), 10, what="the QR slip")
    return QR.findall(agent.printed())[-1].decode()


async def scan_and_pay(sandbox, code_url: str) -> dict:
    """What WeChat does when the shopper scans the QR and confirms."""
    async with aiohttp.ClientSession() as http, http.post(
            sandbox.wechat.base_url + "/__sandbox/native/scan",
            json={"code_url": code_url, "openid": "o-shopper"}) as r:
        return {"status": r.status, **(await r.json())}


async def payments(db) -> list[tuple[str, str]]:
    async with db.session() as s:
        rows = (await s.execute(select(Payment.out_trade_no, Payment.status)
                                .order_by(Payment.id))).all()
    return [(r[0], r[1]) for r in rows]


async def orders_booked(db) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(Order)) or 0)


async def start_qr(agent) -> str:
    assert await agent.handle_scan(SimpleNamespace(kind="product", text=WATER)) is None
    await card(agent, assembly.ACTION_PAY_QR)
    assert agent.checkout.state == State.PAYING
    return await qr_printed(agent)


async def test_paid_by_qr_prints_the_receipt_and_books_the_sale_once(bridge, kiosk):
    agent = kiosk
    code_url = await start_qr(agent)
    printed = agent.printed()
    assert "微信扫码支付".encode("gb18030") in printed and b"2.00" in printed
    (attempt,) = await agent.journal.payment_attempts()
    assert (attempt.provider, attempt.amount, attempt.status) == ("wechat", 200, "pending")
    # While the QR is open a payment code is refused: never two payments for one sale.
    refusal = await agent.handle_scan(SimpleNamespace(kind="wechat", text=CODE))
    assert refusal is not None and refusal.code == "invalid_in_paying"
    paid = await scan_and_pay(bridge.sandbox, code_url)
    assert paid["status"] == 200 and paid["notify_status"] == 204
    await until(lambda: agent.checkout.state == State.COMPLETED, 10, what="the sale done")
    (attempt,) = await agent.journal.payment_attempts()
    assert (attempt.status, attempt.provider_ref) == ("paid", paid["transaction_id"])
    sale = agent.checkout.sale
    assert [(t.method, t.amount, t.out_trade_no) for t in sale.order.tenders] == [
        ("wechat", 200, attempt.out_trade_no)]
    await until(lambda: b"\x1dV" in agent.printed().split(code_url.encode())[-1], 10,
                what="the receipt after the slip")
    await until(lambda: orders_booked(bridge.db), 15, what="the sale at the bridge")
    assert await payments(bridge.db) == [(attempt.out_trade_no, "paid")]
    assert len(bridge.sandbox.wechat.ledger.trades) == 1


async def test_never_paid_the_qr_is_closed_and_nothing_charged(bridge, kiosk):
    agent = kiosk
    agent.config.payments.qr_wait_s = 1.0
    code_url = await start_qr(agent)
    await until(lambda: agent.checkout.state == State.AWAITING_PAYMENT, 10,
                what="back at the payment step")
    (attempt,) = await agent.journal.payment_attempts()
    assert (attempt.status, attempt.reason) == ("failed", "qr_expired")
    assert await payments(bridge.db) == [(attempt.out_trade_no, "failed")]
    assert (await scan_and_pay(bridge.sandbox, code_url))["status"] == 409  # dead QR
    # The shopper cancels the next one: closed at once, and may then pay with a code.
    agent.config.payments.qr_wait_s = 30
    await card(agent, assembly.ACTION_PAY_QR)
    await until(lambda: len(QR.findall(agent.printed())) == 2, 10, what="a second QR")
    second = QR.findall(agent.printed())[-1].decode()
    assert second != code_url
    await card(agent, assembly.ACTION_CANCEL)
    await until(lambda: agent.checkout.state == State.AWAITING_PAYMENT, 10, what="closed")
    attempts = await agent.journal.payment_attempts()
    assert [(a.status, a.reason) for a in attempts] == [("failed", "qr_expired"),
                                                        ("failed", "qr_cancelled")]
    assert [s for _, s in await payments(bridge.db)] == ["failed", "failed"]
    assert (await scan_and_pay(bridge.sandbox, second))["status"] == 409
    assert agent.checkout.items  # the cart is kept: only the QR was cancelled
    assert await orders_booked(bridge.db) == 0


@pytest.mark.parametrize("shopper_pays", [True, False], ids=["paid-meanwhile", "not-paid"])
async def test_link_lost_after_the_qr_was_printed_is_resolved_once(bridge, kiosk, broker,
                                                                   shopper_pays):
    agent = kiosk
    agent.config.payments.qr_wait_s = 1.5
    code_url = await start_qr(agent)
    broker.stop()                                        # the shop's internet drops
    await until(lambda: not agent.runtime.link.connected.is_set(), 10, what="link down")
    if shopper_pays:                                     # the phone has its own network
        assert (await scan_and_pay(bridge.sandbox, code_url))["status"] == 200

    async def unknown() -> bool:                         # the QR's wait ran out offline
        return [a.status for a in await agent.journal.payment_attempts()] == ["unknown"]

    await until(unknown, 30, what="the attempt left unknown")
    assert agent.checkout.state == State.PAYING          # still settling: nothing decided
    broker.start()
    await until(lambda: agent.checkout.state in (State.COMPLETED, State.AWAITING_PAYMENT),
                30, what="settled once the link is back")
    (attempt,) = await agent.journal.payment_attempts()
    want = "paid" if shopper_pays else "failed"
    assert attempt.status == want
    assert await payments(bridge.db) == [(attempt.out_trade_no, want)]
    if shopper_pays:
        assert agent.checkout.state == State.COMPLETED
        await until(lambda: orders_booked(bridge.db), 15, what="the sale at the bridge")
        assert await orders_booked(bridge.db) == 1
    else:
        assert (await scan_and_pay(bridge.sandbox, code_url))["status"] == 409
        assert await orders_booked(bridge.db) == 0


async def test_refused_offline_without_a_printer_and_twice(bridge, kiosk, broker):
    agent = kiosk
    co = agent.checkout
    sale = qr_sale(agent)
    assert await agent.handle_scan(SimpleNamespace(kind="product", text=WATER)) is None
    # No printer able to print the QR: refused before anything is journaled.
    spooler = agent.runtime.printer.spooler
    agent.runtime.printer.spooler = None
    with pytest.raises(Refusal) as info:
        await sale.start()
    assert info.value.code == "qr_no_printer" and "打印机" in info.value.zh
    agent.runtime.printer.spooler = spooler
    # Offline: refused with the shopper's words, nothing journaled, nothing at the bridge.
    broker.stop()
    await until(lambda: not agent.runtime.link.connected.is_set(), 10, what="link down")
    with pytest.raises(Refusal) as info:
        await sale.start()
    assert info.value.code == "qr_offline"
    assert "网络中断" in info.value.zh and "offline" in info.value.en
    assert await agent.journal.payment_attempts() == []
    broker.start()
    await asyncio.wait_for(agent.runtime.link.connected.wait(), 15)
    await bridge.wait_mqtt()
    assert await payments(bridge.db) == []
    # A second QR while one is open is refused; the cancel card closes the open one.
    await sale.start()
    await qr_printed(agent)
    with pytest.raises(Refusal) as info:
        await sale.start()
    assert info.value.code == "qr_open"
    assert co.state == State.PAYING
    await card(agent, assembly.ACTION_CANCEL)
    await until(lambda: co.state == State.AWAITING_PAYMENT, 10, what="closed")
    assert len(bridge.sandbox.wechat.ledger.trades) == 1


@pytest.mark.parametrize("shopper_pays", [True, False], ids=["paid-meanwhile", "not-paid"])
async def test_a_restart_with_the_qr_open_is_settled_at_the_next_start(bridge, kiosk,
                                                                       shopper_pays):
    """The agent stops (a crash, a power cut) while the QR is out: the attempt stays in
    the journal; the next start settles it (payment.settle closes the QR at the bridge);
    paid meanwhile, the sale is committed from the draft saved with the attempt."""
    agent = kiosk
    cfg = agent.config
    code_url = await start_qr(agent)
    agent.stop()
    await until(lambda: not agent.started.is_set(), 20, what="the agent stopped")
    if shopper_pays:
        assert (await scan_and_pay(bridge.sandbox, code_url))["status"] == 200
    async with running(cfg) as again:
        want = "paid" if shopper_pays else "failed"

        async def settled() -> bool:
            return [a.status for a in await again.journal.payment_attempts()] == [want]

        await until(settled, 30, what="settled at the next start")
        (attempt,) = await again.journal.payment_attempts()
        assert await payments(bridge.db) == [(attempt.out_trade_no, want)]
        if shopper_pays:
            assert await again.journal.committed_sale(attempt.order_no) is not None
            await until(lambda: orders_booked(bridge.db), 15, what="the sale at the bridge")
            assert await orders_booked(bridge.db) == 1
        else:
            assert (await scan_and_pay(bridge.sandbox, code_url))["status"] == 409
            assert await orders_booked(bridge.db) == 0
