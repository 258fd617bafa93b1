"""A revoked staff badge cannot lift the wrong-PIN lockout: the control socket checks the
badge against the revocation list of the price book the kiosk sells on (as the camera
and the cart edits do). Over the real control socket, and through a real agent."""

from __future__ import annotations

import asyncio
import time

import pytest

from contract.pricebook import PriceBook, StaffRevocations
from contract.signing import generate_signing_key, public_key_pem
from contract.tokens import issue_token
from kiosk_agent.agent import Agent
from kiosk_agent.config import AgentConfig
from kiosk_agent.control import AgentFacade, ControlServer, JournalControl
from kiosk_agent.control import sessions as control_sessions
from kiosk_agent.control.errors import ControlApiError
from kiosk_agent.control.server import ControlComponent
from tests.kiosk_agent.control.test_server import PIN, FakeDevices, make_config, pin_hash, sock_dir
from tests.kiosk_agent.sales import FakePayments, make_book
from tui.client import ControlClient, ControlError

__all__ = ["pin_hash", "sock_dir"]  # fixtures

KEY = generate_signing_key()
# Staff "s-lost" lost their badge a minute before the revocation is made. Taken when the
# book is built, not at import: a module constant is minutes old when a long suite gets
# here, and badges issued "10 minutes ago" would then postdate it.
CUTOFF_AGO_S = 60


def _book(revoked: bool) -> PriceBook:
    book = make_book()
    if not revoked:
        return book
    return PriceBook.model_validate({
        **book.model_dump(), "version": "test-2",
        "staff_revocations": StaffRevocations(version=1, token_ids=("lost01",),
                                              subjects={"s-lost": int(time.time()) - CUTOFF_AGO_S})})


def _badge(subject: str, store: str, token_id: str, issued_ago_s: float = 600) -> str:
    return issue_token(KEY, kind="staff", subject=subject, store=store, ttl_s=86400,
                       token_id=token_id, now=time.time() - issued_ago_s)


async def _lock_out(client: ControlClient) -> None:
    for _ in range(control_sessions.PIN_FREE_ATTEMPTS):
        with pytest.raises(ControlError):
            await client.login("0000")
    with pytest.raises(ControlError) as err:
        await client.login(PIN)
    assert err.value.status == 429


async def test_revoked_badges_cannot_lift_the_pin_lockout(journal, sock_dir, pin_hash,
                                                          monkeypatch, caplog):
    monkeypatch.setattr(control_sessions, "PIN_LOCKOUT_BASE_S", 60.0)
    monkeypatch.setenv("KIOSK_BADGE_PUBKEY", public_key_pem(KEY).decode())
    cfg = make_config(sock_dir / "control.sock", staff_pin_hash=pin_hash)
    store = cfg.kiosk.store_id
    current = {"book": _book(revoked=False)}
    facade = AgentFacade(FakeDevices(), JournalControl(journal))
    async with ControlServer(facade, cfg, book=lambda: current["book"]) as server, \
            ControlClient(server.socket_path) as client:
        await _lock_out(client)
        current["book"] = _book(revoked=True)  # the next price book revokes two badges
        for revoked in (_badge("s-7", store, "lost01"),  # by badge id
                        _badge("s-lost", store, "old001")):  # by staff, issued before cutoff
            with pytest.raises(ControlError) as err:
                await client.unlock_with_badge(revoked)
            assert err.value.status == 403 and "revoked" in str(err.value)
        with pytest.raises(ControlError) as err:
            await client.login(PIN)
        assert err.value.status == 429  # still locked out
        assert "PIN unlock refused: badge revoked" in caplog.text
        # The replacement badge of s-lost (issued after the cutoff) works.
        body = await client.unlock_with_badge(_badge("s-lost", store, "new001",
                                                     issued_ago_s=0))
        assert body["staff"] == "s-lost" and body["unlocked"] == 1
        await client.login(PIN)


async def test_a_running_agent_gives_the_control_socket_its_book(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_BADGE_PUBKEY", public_key_pem(KEY).decode())
    config = AgentConfig.model_validate({"journal": {"path": str(tmp_path / "j.db")},
                                         "mqtt": {"enabled": False}})
    agent = Agent(config, payments=FakePayments(), book=_book(revoked=True))
    runner = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.started.wait(), 5)
        sessions = ControlComponent(agent).server.sessions
        store = config.kiosk.store_id
        with pytest.raises(ControlApiError) as err:
            sessions.unlock_with_badge(_badge("s-7", store, "lost01"))
        assert err.value.status == 403 and "revoked" in str(err.value)
        assert sessions.unlock_with_badge(_badge("s-7", store, "ok0001"))[0] == "s-7"
        agent.book = _book(revoked=False)  # a book without the list: the badge works again
        assert sessions.unlock_with_badge(_badge("s-7", store, "lost01"))[0] == "s-7"
    finally:
        agent.stop()
        await asyncio.wait_for(runner, 5)
