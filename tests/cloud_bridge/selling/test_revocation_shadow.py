"""Badge revocations reach kiosks through their signed shadow at once (not only with the
next price book): ``cloud-bridge staff revoke`` with a real Mosquitto, the kiosk agent's
real Link, Shadow and badge check; the list survives a restart and a new book without
it; a list in a desired state the bridge did not sign is refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from contract.pricebook import StaffRevocations
from contract.signing import generate_signing_key, private_key_pem, public_key_pem, sign_shadow
from contract.wire.shadow import ShadowDesired
from kiosk_agent import assembly
from kiosk_agent.agent import Agent
from kiosk_agent.checkout import State
from kiosk_agent.config import AgentConfig
from kiosk_agent.revocations import merge, with_revocations
from tests.kiosk_agent.sales import FakePayments, make_book
from tests.kiosk_agent.test_cart_edits import KEY, scan
from tests.support.link_helpers import shrink_timings

from ..bridge_process import migrate, write_config

ROOT = Path(__file__).resolve().parents[3]
CMD_KEY = generate_signing_key()


def badge(staff: str) -> str:
    from contract.tokens import issue_token

    return issue_token(KEY, kind="staff", subject=staff, store="S1", ttl_s=3600)


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT),
               BRIDGE_COMMAND_SIGNING_KEY=private_key_pem(CMD_KEY).decode())
    return subprocess.run([sys.executable, "-m", "cloud_bridge.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


async def start_agent(tmp_path: Path, port: int) -> tuple[Agent, asyncio.Task]:
    cfg = AgentConfig.model_validate({
        "kiosk": {"store_id": "S1", "kiosk_id": "K1"},
        "journal": {"path": str(tmp_path / "journal.db")},
        "mqtt": {"host": "127.0.0.1", "port": port, "username": "S1-K1"}})
    agent = Agent(cfg, payments=FakePayments(), book=make_book())
    for name, factory in (("link", assembly.link_component),
                          ("catalog", assembly.catalog_component)):
        agent.add_component(name, factory(agent))
    task = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.started.wait(), 10)
    return agent, task


async def stop(agent: Agent, task: asyncio.Task) -> None:
    agent.stop()
    await asyncio.wait_for(task, 15)


def revocations_arrive(agent: Agent) -> asyncio.Event:
    """Set when the agent's shadow applies a revocation list."""
    arrived = asyncio.Event()
    shadow = agent.runtime.shadow
    assert shadow is not None and shadow.on_revocations is not None
    apply = shadow.on_revocations

    def hook(revs: StaffRevocations) -> None:
        apply(revs)
        arrived.set()

    shadow.on_revocations = hook
    return arrived


async def test_revoke_reaches_the_kiosk_through_its_shadow(broker, tmp_path, monkeypatch):
    shrink_timings(monkeypatch)
    monkeypatch.setenv("KIOSK_BADGE_PUBKEY", public_key_pem(KEY).decode())
    monkeypatch.setenv("KIOSK_COMMAND_PUBKEY", public_key_pem(CMD_KEY).decode())
    cfg = write_config(tmp_path / "bridge.toml", db_url=f"sqlite+aiosqlite:///{tmp_path}/b.db",
                       worker="w", mqtt_port=broker.port)
    assert migrate(cfg).returncode == 0
    from cloud_bridge import fleet
    from cloud_bridge.config import load_config
    from cloud_bridge.db import open_database

    db = open_database(load_config(cfg))
    try:
        async with db.session() as s:  # the kiosk as the fleet view knows it
            await fleet.record_desired(s, "S1", "K1", 3, {"telemetry": {"interval_s": 60}})
            await s.commit()
    finally:
        await db.close()

    agent, task = await start_agent(tmp_path, broker.port)
    try:
        old = badge("e9")  # issued before the revocation (a later one would be a replacement)
        assert await agent.handle_scan(scan(old)) is None  # valid: maintenance on
        assert agent.checkout.state == State.MAINTENANCE
        agent.checkout.maintenance_off()
        arrived = revocations_arrive(agent)
        out = cli("staff", "revoke", "--config", str(cfg), "--staff", "e9")
        assert out.returncode == 0, out.stderr
        assert "sent to 1 kiosk(s) through their shadow" in out.stdout
        await asyncio.wait_for(arrived.wait(), 15)
        assert "e9" in agent.book.staff_revocations.subjects
        refusal = await agent.handle_scan(scan(old))
        assert refusal is not None and refusal.code == "badge_revoked"
        assert agent.runtime.shadow.applied_version == 4  # above the desired version 3
        assert agent.runtime.shadow.applied == {"telemetry": {"interval_s": 60}}  # kept
        assert await agent.handle_scan(scan(badge("e1"))) is None  # others still work
    finally:
        await stop(agent, task)
    # Restarted with a price book that has no list: the shadow's list still holds.
    agent, task = await start_agent(tmp_path, broker.port)
    try:
        assert agent.book.staff_revocations is not None
        refusal = await agent.handle_scan(scan(old))
        assert refusal is not None and refusal.code == "badge_revoked"
        # A forged desired state (another key) cannot bring a list, nor a newer version.
        shadow = agent.runtime.shadow
        forged = sign_shadow(ShadowDesired(
            version=99, store="S1", kiosk="K1",
            staff_revocations={"version": 99, "token_ids": [], "subjects": {}}),
            generate_signing_key())
        assert await shadow.apply(forged) is False
        assert shadow.error and "signature" in shadow.error and shadow.applied_version == 4
        # A new price book from the catalog keeps the revocation (a union, never less).
        assert with_revocations(make_book(), shadow.revocations).staff_revocations.subjects
    finally:
        await stop(agent, task)


def test_merge_is_a_union_and_never_forgets():
    a = StaffRevocations(version=2, token_ids=("t1",), subjects={"e1": 100})
    b = StaffRevocations(version=5, token_ids=("t2",), subjects={"e1": 50, "e2": 7})
    both = merge(a, b)
    assert both == StaffRevocations(version=5, token_ids=("t1", "t2"),
                                    subjects={"e1": 100, "e2": 7})
    assert merge(None, b) == b and merge(a, None) == a
    book = with_revocations(make_book(), a)
    assert with_revocations(book, a) is book  # nothing new: the same book
