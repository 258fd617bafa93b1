"""Signed fleet commands: verification, refusal reasons, replay protection, handlers."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from cloud_bridge.commands import sign_command as bridge_sign
from contract.signing import (
    KeyMaterialError,
    NonceCache,
    generate_signing_key,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
    sign_command,
)
from contract.wire.base import utcnow
from contract.wire.commands import Command
from kiosk_agent.commands import (
    CommandDispatcher,
    register_agent_handlers,
    register_builtin_handlers,
)

KEY = generate_signing_key()


def _dispatcher(tmp_path: Path, **agent) -> CommandDispatcher:
    d = CommandDispatcher("s1", "k1", [KEY.public_key()], NonceCache(tmp_path / "nonces.json"))
    register_builtin_handlers(d)
    register_agent_handlers(d, **agent)
    return d


def _cmd(name: str = "ping", **over) -> Command:
    now = utcnow()
    fields = dict(cmd_id="c1", name=name, store="s1", kiosk="k1", issued_at=now,
                  expires_at=now + timedelta(minutes=5), nonce="nonce-0001")
    fields.update(over)
    return Command(**fields)


async def test_valid_ping_runs(tmp_path: Path) -> None:
    res = await _dispatcher(tmp_path).handle(bridge_sign(KEY, "s1", "k1", "ping").encode())
    assert res.ok and res.result["pong"] is True


# Commands are built when the test runs (lambdas): built at collection, the ones that
# should fail for another reason would have expired by the time a long suite reaches them.
@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: _cmd(), "unsigned"),
        (lambda: sign_command(_cmd(), generate_signing_key()), "bad signature"),
        (lambda: sign_command(_cmd(kiosk="k2"), KEY), "not this kiosk"),
        (lambda: sign_command(_cmd(store="s2"), KEY), "not this kiosk"),
        (lambda: sign_command(_cmd(issued_at=utcnow() - timedelta(hours=1),
                                   expires_at=utcnow() - timedelta(minutes=1)), KEY), "expired"),
        (lambda: sign_command(_cmd(issued_at=utcnow() + timedelta(hours=1),
                                   expires_at=utcnow() + timedelta(hours=2)), KEY), "future"),
        (lambda: sign_command(_cmd(expires_at=utcnow() + timedelta(days=30)), KEY), "too long"),
        (lambda: sign_command(_cmd("format_disk"), KEY), "unknown command"),
    ],
)
async def test_refused_with_reason_and_nothing_runs(tmp_path: Path, make, reason) -> None:
    command = make()
    ran = []

    async def maintenance(on: bool, why: str | None) -> None:
        ran.append(on)

    d = _dispatcher(tmp_path, maintenance=maintenance)
    d.register("ping", lambda args: ran.append("ping"))  # would blow up if run
    res = await d.handle(command.encode())
    assert not res.ok and reason in res.error
    assert res.cmd_id == "c1"
    assert ran == []


async def test_tampered_args_break_the_signature(tmp_path: Path) -> None:
    signed = bridge_sign(KEY, "s1", "k1", "maintenance", {"on": False})
    body = json.loads(signed.encode())
    body["args"]["on"] = True
    res = await _dispatcher(tmp_path).handle(json.dumps(body).encode())
    assert not res.ok and res.error == "bad signature"


async def test_replay_refused_also_after_restart(tmp_path: Path) -> None:
    payload = bridge_sign(KEY, "s1", "k1", "ping").encode()
    assert (await _dispatcher(tmp_path).handle(payload)).ok
    again = await _dispatcher(tmp_path).handle(payload)  # new dispatcher: a restart
    assert not again.ok and "replayed" in again.error


async def test_malformed_payloads_refused(tmp_path: Path) -> None:
    d = _dispatcher(tmp_path)
    for junk in (b"\xff", b"[1]", b'{"v":1,"cmd_id":"x1"}', b"{}"):
        res = await d.handle(junk)
        assert not res.ok and res.error.startswith("malformed")
    assert (await d.handle(b'{"v":1,"cmd_id":"x1"}')).cmd_id == "x1"


async def test_agent_handlers_check_arguments_and_call_back(tmp_path: Path) -> None:
    calls: list = []

    async def maintenance(on, reason):
        calls.append(("maintenance", on, reason))

    async def reprint(order_no):
        calls.append(("reprint", order_no))
        return 7

    async def collect_logs(lines):
        return [f"line {i}" for i in range(lines)]

    async def self_test():
        return {"printer": "ok", "camera": "ok"}

    d = _dispatcher(tmp_path, maintenance=maintenance, reprint=reprint,
                    collect_logs=collect_logs, self_test=self_test)
    ok = await d.handle(bridge_sign(KEY, "s1", "k1", "maintenance", {"on": True}).encode())
    assert ok.ok and calls == [("maintenance", True, None)]
    bad = await d.handle(bridge_sign(KEY, "s1", "k1", "maintenance", {"on": "yes"}).encode())
    assert not bad.ok and "'on'" in bad.error
    res = await d.handle(bridge_sign(KEY, "s1", "k1", "reprint", {"order_no": "k1-1"}).encode())
    assert res.result == {"order_no": "k1-1", "job_id": 7}
    res = await d.handle(bridge_sign(KEY, "s1", "k1", "collect_logs", {"lines": 3}).encode())
    assert res.result["lines"] == ["line 0", "line 1", "line 2"]
    res = await d.handle(bridge_sign(KEY, "s1", "k1", "self_test").encode())
    assert res.result == {"printer": "ok", "camera": "ok"}
    assert "restart" not in d.names  # no callback, no command


async def test_log_level_and_failing_handler(tmp_path: Path) -> None:
    d = _dispatcher(tmp_path)
    res = await d.handle(
        bridge_sign(KEY, "s1", "k1", "log_level", {"level": "debug", "logger": "x.y"}).encode()
    )
    assert res.ok and logging.getLogger("x.y").level == logging.DEBUG
    res = await d.handle(bridge_sign(KEY, "s1", "k1", "log_level", {"level": "LOUD"}).encode())
    assert not res.ok

    async def boom(args):
        raise RuntimeError("camera gone")

    d.register("self_test", boom)
    res = await d.handle(bridge_sign(KEY, "s1", "k1", "self_test").encode())
    assert not res.ok and "camera gone" in res.error


def test_key_formats_round_trip(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    raw = KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    for form in (public_key_pem(KEY), raw, raw.hex(), raw.hex().encode()):
        assert load_public_key(form).public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw) == raw
    (tmp_path / "k.pem").write_bytes(private_key_pem(KEY))
    assert load_private_key(tmp_path / "k.pem").public_key() == KEY.public_key()
    with pytest.raises(KeyMaterialError):
        load_public_key(b"not a key")


def test_nonce_cache_bounded_and_survives_corruption(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    cache = NonceCache(path, max_entries=10)
    far = utcnow().timestamp() + 3600
    for i in range(25):
        assert cache.add(f"n{i}", far + i)
    assert len(cache) == 10 and len(json.loads(path.read_text())) == 10
    assert not cache.add("n24", far)
    path.write_text("{garbage")
    assert len(NonceCache(path)) == 0
