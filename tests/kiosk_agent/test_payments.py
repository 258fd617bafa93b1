"""Kiosk payments: attempt persisted before the RPC, unknown outcomes settled through the
cloud, offline stored-value rules, the payment code never written anywhere."""

from __future__ import annotations

import asyncio
import logging

import pytest

from contract.wire.events import MemberProofData
from contract.wire.payments import shopper_message
from kiosk_agent.journal import Journal
from kiosk_agent.link import LinkDown, RpcTimeout
from kiosk_agent.payments import KioskPayments

pytestmark = pytest.mark.timeout(30)

CODE = "134567890123456789"


class ScriptedLink:
    """Stands in for ``Link.request``: replies from a script, records what was sent."""

    def __init__(self, journal: Journal, script: list) -> None:
        self.journal = journal
        self.script = list(script)
        self.sent: list[tuple[str, dict]] = []
        self.connected = asyncio.Event()
        self.connected.set()
        self.status_at_send: list[str] = []

    async def request(self, method: str, params: dict, timeout: float) -> dict:  # noqa: ASYNC109
        attempts = await self.journal.payment_attempts()
        self.status_at_send.append(
            next((a.status for a in attempts if a.out_trade_no == params["out_trade_no"]), "none"))
        self.sent.append((method, dict(params)))
        if not self.connected.is_set():
            raise LinkDown("not connected; not sent")
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


def result(no: str, status: str, reason: str | None = None) -> dict:
    zh, en = shopper_message(status, reason)
    return {"out_trade_no": no, "status": status, "amount": 1200, "currency": "CNY",
            "method": "wechat", "reason": reason, "message_zh": zh, "message_en": en}


@pytest.fixture
async def journal(tmp_path):
    """A real journal in tmp_path."""
    async with Journal(tmp_path / "journal.db", "S1", "K1") as j:
        yield j


def gateway(link, journal) -> KioskPayments:
    return KioskPayments(link, journal, charge_timeout_s=1, settle_timeout_s=2,
                         settle_rpc_timeout_s=0.5, settle_retry_s=0.01,
                         max_offline_sale=2000, max_offline_total=3000)


async def test_paid_attempt_persisted_before_rpc(journal):
    link = ScriptedLink(journal, [result("N0000001", "paid")])
    out = await gateway(link, journal).charge("O1", "N0000001", "wechat", 1200, "CNY", CODE)
    assert out.status == "paid" and out.message_zh.startswith("支付成功")
    assert link.status_at_send == ["pending"]
    assert link.sent[0][0] == "payment.charge" and link.sent[0][1]["auth_code"] == CODE
    (a,) = await journal.payment_attempts()
    assert (a.status, a.amount) == ("paid", 1200)


async def test_timeout_is_settled_by_the_cloud(journal):
    link = ScriptedLink(journal, [RpcTimeout("no reply"), LinkDown("down"),
                                  result("N0000002", "unknown"), result("N0000002", "reversed")])
    out = await gateway(link, journal).charge("O2", "N0000002", "alipay", 1200, "CNY", CODE)
    assert out.status == "reversed" and "撤销" in out.message_zh and "cancelled" in out.message_en
    assert [m for m, _ in link.sent] == ["payment.charge"] + ["payment.settle"] * 3
    # Settling never carries the code, and reuses the same out_trade_no and amount.
    for _, p in link.sent[1:]:
        assert "auth_code" not in p and p["out_trade_no"] == "N0000002" and p["amount"] == 1200
    assert (await journal.payment_attempts())[0].status == "reversed"


async def test_unknown_reply_then_paid(journal):
    link = ScriptedLink(journal, [result("N0000003", "unknown", "user_paying"),
                                  result("N0000003", "paid")])
    out = await gateway(link, journal).charge("O3", "N0000003", "wechat", 1200, "CNY", CODE)
    assert out.status == "paid"


async def test_restart_resumes_unsettled(journal):
    await journal.begin_payment_attempt("O4", "N0000004", "wechat", 1200, "CNY")
    link = ScriptedLink(journal, [result("N0000004", "paid")])
    outs = await gateway(link, journal).resume_unsettled()
    assert [o.status for o in outs] == ["paid"]
    assert link.sent[0][0] == "payment.settle"


async def test_settle_gives_up_bounded_and_keeps_unknown(journal):
    link = ScriptedLink(journal, [RpcTimeout("x")] * 500)
    gw = gateway(link, journal)
    gw.settle_timeout_s = 0.3
    out = await gw.charge("O5", "N0000005", "wechat", 1200, "CNY", CODE)
    assert out.status == "unknown" and "请勿重复付款" in out.message_zh
    assert (await journal.payment_attempts())[0].status == "unknown"


async def test_offline_stored_value_within_limits(journal):
    link = ScriptedLink(journal, [])
    link.connected.clear()
    gw = gateway(link, journal)
    proof = MemberProofData(code="S1.a.b", level="regular", points=0, stored_value=10**6)
    ok = await gw.charge("O6", "N0000006", "stored_value", 1500, "CNY", None, member_id="M1",
                         member_proof=proof)
    assert ok.status == "paid" and ok.offline
    too_big = await gw.charge("O7", "N0000007", "stored_value", 2500, "CNY", None, member_id="M1",
                              member_proof=proof)
    assert too_big.status == "failed" and too_big.reason == "offline_sale_cap"
    over_total = await gw.charge("O8", "N0000008", "stored_value", 1600, "CNY", None,
                                 member_id="M1", member_proof=proof)
    assert over_total.status == "failed"
    no_wechat = await gw.charge("O9", "N0000009", "wechat", 100, "CNY", CODE)
    assert no_wechat.status == "failed" and "网络" in no_wechat.message_zh
    assert [m for m, _ in link.sent] == ["payment.charge"]   # tried, not sent (LinkDown)


async def test_payment_code_not_in_journal_or_logs(journal, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    link = ScriptedLink(journal, [RpcTimeout("x"), result("N0000010", "paid")])
    await gateway(link, journal).charge("O10", "N0000010", "wechat", 1200, "CNY", CODE)
    await journal.__aexit__(None, None, None)
    blobs = b"".join(p.read_bytes() for p in tmp_path.glob("journal.db*"))
    assert blobs and CODE.encode() not in blobs
    assert CODE not in caplog.text


async def test_charge_params_that_do_not_validate_fail_without_echoing_the_code(
        journal, tmp_path, caplog):
    # pydantic's ValidationError text quotes the rejected input: a too-long code must not
    # reach a log line or the journal through it, and nothing is sent (nothing charged).
    caplog.set_level(logging.DEBUG)
    long_code = "28" + "7" * 70
    link = ScriptedLink(journal, [])
    out = await gateway(link, journal).charge("O11", "N0000011", "alipay", 1200, "CNY",
                                              long_code)
    assert out.status == "failed" and out.reason == "bad_params"
    assert link.sent == []
    (attempt,) = await journal.payment_attempts()
    assert attempt.status == "failed" and long_code not in (attempt.reason or "")
    await journal.__aexit__(None, None, None)
    blobs = b"".join(p.read_bytes() for p in tmp_path.glob("journal.db*"))
    assert long_code.encode() not in blobs
    assert long_code not in caplog.text
