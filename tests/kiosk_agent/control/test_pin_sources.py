"""Whoever guesses PINs at the console locks out only themselves; a signed staff badge
lifts the lockout. On the real control socket, with a second Unix user guessing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from contract.signing import generate_signing_key, public_key_pem
from contract.tokens import issue_token
from kiosk_agent.control import AgentFacade, ControlServer, JournalControl
from kiosk_agent.control import sessions as control_sessions
from tests.kiosk_agent.control.test_server import (
    PIN,
    FakeDevices,
    make_config,
    pin_hash,
    sock_dir,
)
from tui.client import ControlClient, ControlError

__all__ = ["pin_hash", "sock_dir"]  # fixtures
ROOT = Path(__file__).resolve().parents[3]
NOBODY = 65534

GUESSER = """
import asyncio, json, os, sys
from tui.client import ControlClient, ControlError
os.setgid({uid}); os.setuid({uid})  # another person: the console user, say
async def main():
    out = []
    async with ControlClient(sys.argv[1]) as c:
        for pin in sys.argv[2:]:
            try:
                await c.login(pin); out.append(201)
            except ControlError as err:
                out.append(err.status)
    print(json.dumps(out))
asyncio.run(main())
"""


async def _guess(socket_path: Path, pins: list[str]) -> list[int]:
    # In a thread: the server answering it runs on this test's event loop.
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", GUESSER.format(uid=NOBODY), str(socket_path),
                           *pins], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0 and ("ModuleNotFoundError" in done.stderr
                                 or "PermissionError" in done.stderr):
        pytest.skip("the second user (nobody) cannot read this Python or checkout: "
                    + done.stderr.strip().splitlines()[-1][:200])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
async def served(journal, sock_dir, pin_hash, monkeypatch):
    """The control server on a real socket everyone may connect to (the test's users)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as a second Unix user")
    monkeypatch.setattr(control_sessions, "PIN_LOCKOUT_BASE_S", 60.0)
    key = generate_signing_key()
    monkeypatch.setenv("KIOSK_BADGE_PUBKEY", public_key_pem(key).decode())
    cfg = make_config(sock_dir / "control.sock", staff_pin_hash=pin_hash)
    os.chmod(sock_dir, 0o755)
    facade = AgentFacade(FakeDevices(), JournalControl(journal))
    async with ControlServer(facade, cfg) as server:
        os.chmod(server.socket_path, 0o666)
        yield server, key, cfg


async def test_a_guesser_locks_out_only_itself_and_a_badge_unlocks(served):
    server, key, cfg = served
    wrong = ["0000"] * control_sessions.PIN_FREE_ATTEMPTS
    assert await _guess(server.socket_path, [*wrong, PIN]) == [401] * len(wrong) + [429]
    async with ControlClient(server.socket_path) as staff:  # another source: not locked
        await staff.login(PIN)
        assert staff.token
    assert await _guess(server.socket_path, [PIN]) == [429]  # the guesser still is
    async with ControlClient(server.socket_path) as staff:
        # A forged or foreign badge does nothing; a signed one of this store unlocks.
        for bad in ("STAFF:42", issue_token(generate_signing_key(), kind="staff",
                                            subject="s-9", ttl_s=600)):
            with pytest.raises(ControlError) as err:
                await staff.unlock_with_badge(bad)
            assert err.value.status == 403
        badge = issue_token(key, kind="staff", subject="s-7", store=cfg.kiosk.store_id,
                            ttl_s=600)
        body = await staff.unlock_with_badge(badge)
        assert body["unlocked"] == 1 and body["staff"] == "s-7"
    assert await _guess(server.socket_path, [PIN]) == [201]
