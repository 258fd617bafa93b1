"""Member codes at the kiosk, through the agent's scan path: a code issued by the bridge
(``cloud_bridge.members.member_code``) is verified offline with the chain's public key and
attaches the member with the level and points of its snapshot; forged, expired, replayed
past its window, other chains' and old HMAC codes are refused with a reason."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from cloud_bridge.members.member_code import issue_member_code
from contract.codes import classify, display_text, make_member_code
from contract.signing import generate_signing_key, public_key_pem
from kiosk_agent.agent import Agent
from kiosk_agent.checkout import State
from kiosk_agent.config import AgentConfig
from tests.kiosk_agent.sales import FakePayments, make_book

CHAIN = generate_signing_key()
OTHER_CHAIN = generate_signing_key()


def scan(text: str):
    return SimpleNamespace(kind=classify(text, "QRCODE", member_key="legacy-key"), text=text,
                           symbology="QRCODE")


@pytest.fixture
async def agent(tmp_path: Path, monkeypatch):
    """A started agent (no MQTT) holding the test chain's member public key."""
    monkeypatch.setenv("KIOSK_MEMBER_PUBKEY", public_key_pem(CHAIN).decode())
    monkeypatch.setenv("KIOSK_MEMBER_CODE_KEY", "legacy-key")
    config = AgentConfig.model_validate({"journal": {"path": str(tmp_path / "j.db")},
                                         "mqtt": {"enabled": False}})
    a = Agent(config, payments=FakePayments(), book=make_book())
    a.receipt_wait_s = 0.0  # no printer here: the receipt job just stays queued
    runner = asyncio.create_task(a.run())
    await asyncio.wait_for(a.started.wait(), 5)
    yield a
    a.stop()
    await asyncio.wait_for(runner, 5)


async def test_a_valid_code_attaches_the_member_with_its_snapshot(agent):
    text = issue_member_code(CHAIN, "m0123abcd", "gold", 1200, 5000)
    assert scan(text).kind == "member"
    assert "m0123" not in display_text(text, "member")  # a bearer token is masked in logs
    assert await agent.handle_scan(scan(text)) is None
    m = agent.checkout.member
    assert (m.member_id, m.level, m.points_balance) == ("m0123abcd", "gold", 1200)
    assert agent.checkout.state == State.MEMBER_ATTACHED


def _forged() -> str:
    head, _payload, sig = issue_member_code(CHAIN, "m1", "regular", 0, 0).split(".")
    richer = issue_member_code(OTHER_CHAIN, "m1", "diamond", 999999, 0).split(".")[1]
    return ".".join((head, richer, sig))  # a richer snapshot under the real signature


@pytest.mark.parametrize("make,reason", [
    (_forged, "member_unknown_key"),
    (lambda: issue_member_code(CHAIN, "m1", "gold", 5, 0, ttl_s=60,
                               now=time.time() - 120), "member_expired"),
    # Replayed past the window: the code says it is good for an hour, the kiosk caps at 180 s.
    (lambda: issue_member_code(CHAIN, "m1", "gold", 5, 0, ttl_s=3600,
                               now=time.time() - 400), "member_expired"),
    (lambda: issue_member_code(OTHER_CHAIN, "m1", "gold", 5, 0), "member_unknown_key"),
    (lambda: make_member_code("m1", "legacy-key", ttl_s=60), "member_legacy"),
], ids=["forged", "expired", "replayed", "other_chain", "legacy_hmac"])
async def test_bad_member_codes_are_refused(agent, make, reason):
    text = make()
    refusal = await agent.handle_scan(scan(text))
    assert refusal is not None and refusal.code == reason, refusal
    assert refusal.zh and refusal.en
    assert agent.checkout.member is None


async def test_a_tampered_signature_is_refused(agent):
    text = issue_member_code(CHAIN, "m1", "gold", 5, 0)
    head, payload, sig = text.split(".")
    bad_sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    refusal = await agent.handle_scan(scan(f"{head}.{payload}.{bad_sig}"))
    assert refusal is not None and refusal.code in ("member_bad_signature", "member_malformed")
    assert agent.checkout.member is None


# -- old HMAC codes (M1.): refused, except during a dated migration without a public key --


async def _agent_without_pubkey(tmp_path: Path, monkeypatch, legacy_until: str | None):
    monkeypatch.delenv("KIOSK_MEMBER_PUBKEY", raising=False)
    monkeypatch.setenv("KIOSK_MEMBER_CODE_KEY", "legacy-key")
    members = {"legacy_hmac_until": legacy_until} if legacy_until else {}
    config = AgentConfig.model_validate({"journal": {"path": str(tmp_path / "j.db")},
                                         "mqtt": {"enabled": False}, "members": members})
    return Agent(config, payments=FakePayments(), book=make_book())


@pytest.mark.parametrize("legacy_until", [None, "2020-01-31"], ids=["no_migration", "ended"])
async def test_hmac_codes_are_refused_on_a_kiosk_without_a_public_key(
        tmp_path, monkeypatch, caplog, legacy_until):
    a = await _agent_without_pubkey(tmp_path, monkeypatch, legacy_until)
    async with _running(a):
        refusal = await a.handle_scan(scan(make_member_code("m1", "legacy-key", ttl_s=60)))
        assert refusal is not None and refusal.code == "member_legacy"
        assert a.checkout.member is None
    line = next(r.getMessage() for r in caplog.records if "old HMAC format" in r.getMessage())
    assert ("legacy_hmac_until" in line) if legacy_until is None else ("2020-01-31" in line)


async def test_hmac_codes_during_a_dated_migration_are_accepted_and_logged(
        tmp_path, monkeypatch, caplog):
    a = await _agent_without_pubkey(tmp_path, monkeypatch, "2099-12-31")
    async with _running(a):
        assert await a.handle_scan(scan(make_member_code("m1", "legacy-key", ttl_s=60))) is None
        assert a.checkout.member.member_id == "m1"
        assert a.checkout.member_proof is None  # nothing the cloud could verify: no credit
        a.checkout.member = None
        forged = SimpleNamespace(kind="member", text=make_member_code("m2", "not-the-key"))
        refusal = await a.handle_scan(forged)
        assert refusal is not None and refusal.code == "member_expired_or_forged"
    assert any("old HMAC member code accepted for m1" in r.getMessage()
               and r.levelname == "WARNING" for r in caplog.records)


async def test_the_public_key_ends_the_migration_whatever_the_date(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_MEMBER_PUBKEY", public_key_pem(CHAIN).decode())
    monkeypatch.setenv("KIOSK_MEMBER_CODE_KEY", "legacy-key")
    config = AgentConfig.model_validate({"journal": {"path": str(tmp_path / "j.db")},
                                         "mqtt": {"enabled": False},
                                         "members": {"legacy_hmac_until": "2099-12-31"}})
    async with _running(Agent(config, payments=FakePayments(), book=make_book())) as a:
        refusal = await a.handle_scan(scan(make_member_code("m1", "legacy-key", ttl_s=60)))
        assert refusal is not None and refusal.code == "member_legacy"


async def test_the_sale_carries_the_code_and_snapshot_it_was_sold_with(agent):
    text = issue_member_code(CHAIN, "m0123abcd", "gold", 1200, 5000)
    assert await agent.handle_scan(scan(text)) is None
    assert await agent.handle_scan(SimpleNamespace(kind="product", text="SKU-CHIPS")) is None
    wechat = SimpleNamespace(kind="wechat", text="134567890123456712")
    assert await agent.handle_scan(wechat) is None
    rows = await agent.journal.outbox_pending(100)
    sale = next(json.loads(r.payload)["data"] for r in rows if r.type == "order.completed")
    assert sale["member_id"] == "m0123abcd"
    assert sale["member"] == {"code": text, "level": "gold", "points": 1200,
                              "stored_value": 5000}


class _running:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    async def __aenter__(self) -> Agent:
        self.runner = asyncio.create_task(self.agent.run())
        await asyncio.wait_for(self.agent.started.wait(), 5)
        return self.agent

    async def __aexit__(self, *exc: object) -> None:
        self.agent.stop()
        await asyncio.wait_for(self.runner, 5)
