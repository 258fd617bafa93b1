"""The kiosk side of Native QR payment (kiosk_agent.native_pay) against a scripted cloud:
the attempt is journaled before the first request; the QR is closed whenever the shopper
cannot or does not pay it; every outcome the kiosk cannot learn goes to payment.settle.
End to end through the broker, the bridge and the WeChat sandbox:
tests/cloud_bridge/payments/test_native_kiosk.py."""

from __future__ import annotations

import asyncio

import pytest

from contract.wire.payments import shopper_message
from kiosk_agent.journal import Journal
from kiosk_agent.link import LinkDown, RpcFailed, RpcTimeout
from kiosk_agent.native_pay import pay_by_qr
from kiosk_agent.payments import KioskPayments

pytestmark = pytest.mark.timeout(30)
NO = "N0000001"
URL = "weixin://wxpay/bizpayurl?pr=abc"


class Cloud:
    """Stands in for ``Link.request``: per method, a list of replies (or exceptions)."""

    def __init__(self, journal: Journal, **script: list) -> None:
        self.journal = journal
        self.script = {k.replace("_", "."): list(v) for k, v in script.items()}
        self.sent: list[str] = []
        self.status_at_first_send: str | None = None
        self.connected = asyncio.Event()
        self.connected.set()

    async def request(self, method: str, params: dict, timeout: float) -> dict:  # noqa: ASYNC109
        if self.status_at_first_send is None:
            (a,) = await self.journal.payment_attempts()
            self.status_at_first_send = a.status
        self.sent.append(method)
        replies = self.script.get(method) or [RpcTimeout("nothing scripted")]
        step = replies.pop(0) if len(replies) > 1 else replies[0]
        if isinstance(step, BaseException):
            raise step
        return step


def reply(status: str, code_url: str | None = None, ref: str | None = None) -> dict:
    zh, en = shopper_message(status)
    return {"out_trade_no": NO, "status": status, "amount": 500, "currency": "CNY",
            "code_url": code_url, "provider_ref": ref, "message_zh": zh, "message_en": en}


@pytest.fixture
async def journal(tmp_path):
    """A real journal with the attempt the checkout writes before paying."""
    async with Journal(tmp_path / "journal.db", "S1", "K1") as j:
        await j.begin_payment_attempt("O1", NO, "wechat", 500, "CNY")
        yield j


async def pay(cloud: Cloud, journal: Journal, *, shown: bool = True,
              cancel_after: float | None = None, wait_s: float = 1.0):
    gw = KioskPayments(cloud, journal, charge_timeout_s=1, settle_timeout_s=1,
                       settle_rpc_timeout_s=0.2, settle_retry_s=0.01)
    cancelled = asyncio.Event()
    shown_urls: list[str] = []

    async def show(url: str) -> bool:
        shown_urls.append(url)
        if cancel_after is not None:
            asyncio.get_running_loop().call_later(cancel_after, cancelled.set)
        return shown

    out = await pay_by_qr(gw, "O1", NO, 500, "CNY", show=show, cancelled=cancelled,
                          wait_s=wait_s, poll_s=0.01, query_s=0.05)
    (attempt,) = await journal.payment_attempts()
    return out, attempt, shown_urls


async def test_paid_by_the_notification_the_bridge_recorded(journal):
    cloud = Cloud(journal, payment_native=[reply("unknown", URL)],
                  payment_status=[reply("unknown"), reply("paid", ref="wx-1")])
    out, attempt, shown = await pay(cloud, journal)
    assert shown == [URL] and cloud.status_at_first_send == "pending"
    assert (out.status, attempt.status, attempt.provider_ref) == ("paid", "paid", "wx-1")
    assert "payment.native.close" not in cloud.sent


async def test_paid_found_by_the_query_when_the_notification_is_lost(journal):
    cloud = Cloud(journal, payment_native=[reply("unknown", URL), reply("paid", ref="wx-2")],
                  payment_status=[reply("unknown")])
    out, attempt, _ = await pay(cloud, journal, wait_s=5)
    assert (out.status, attempt.provider_ref) == ("paid", "wx-2")
    assert cloud.sent.count("payment.native") == 2


@pytest.mark.parametrize(("shown", "cancel", "reason"), [
    (True, None, "qr_expired"), (True, 0.05, "qr_cancelled"), (False, None, "qr_unavailable")])
async def test_unpaid_qrs_are_closed(journal, shown, cancel, reason):
    cloud = Cloud(journal, payment_native=[reply("unknown", URL)],
                  payment_status=[reply("unknown")], payment_native_close=[reply("failed")])
    out, attempt, _ = await pay(cloud, journal, shown=shown, cancel_after=cancel, wait_s=0.3)
    assert (out.status, out.reason, attempt.status, attempt.reason) == (
        "failed", reason, "failed", reason)
    assert out.message_zh == shopper_message("failed", reason)[0] and "未扣款" in out.message_zh
    assert cloud.sent[-1] == "payment.native.close"


async def test_paid_while_being_closed_is_paid(journal):
    cloud = Cloud(journal, payment_native=[reply("unknown", URL)],
                  payment_status=[reply("unknown")],
                  payment_native_close=[reply("paid", ref="wx-3")])
    out, attempt, _ = await pay(cloud, journal, cancel_after=0.02)
    assert (out.status, attempt.status, attempt.provider_ref) == ("paid", "paid", "wx-3")


async def test_a_close_nobody_answers_is_settled(journal):
    settled = {**reply("failed"), "method": "wechat", "reason": "closed"}
    cloud = Cloud(journal, payment_native=[reply("unknown", URL)],
                  payment_status=[reply("unknown")], payment_native_close=[LinkDown("down")],
                  payment_settle=[RpcTimeout("lost"), settled])
    out, attempt, _ = await pay(cloud, journal, wait_s=0.1)
    assert (out.status, attempt.status) == ("failed", "failed")
    assert cloud.sent[-2:] == ["payment.settle", "payment.settle"]


@pytest.mark.parametrize(("error", "status", "reason", "settles"), [
    (LinkDown("down"), "failed", "offline_limit", False),           # never sent
    (RpcFailed("payments_unavailable", "off"), "failed", "payments_unavailable", False),
    (RpcFailed("provider_unavailable", "WeChat"), "failed", None, True),   # QR may exist
    (RpcTimeout("no reply"), "failed", None, True),
    ({"status": "what"}, "failed", None, True),                     # a reply it cannot read
])
async def test_no_qr_made(journal, error, status, reason, settles):
    cloud = Cloud(journal, payment_native=[error],
                  payment_settle=[{**reply("failed"), "method": "wechat", "reason": "closed"}])
    out, attempt, shown = await pay(cloud, journal)
    assert shown == [] and (out.status, attempt.status) == (status, status)
    assert ("payment.settle" in cloud.sent) is settles
    if not settles:
        assert attempt.reason == reason
