"""Schemathesis against a running ``cloud-bridge serve``: no input makes the server fail (5xx)."""

from __future__ import annotations

import os
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from cloud_bridge import auth
from cloud_bridge.ingest import store_events

from .bridge_helpers import order_event
from .bridge_process import BridgeProcess, write_config


class _LegacyMany:
    """``many(...).more()`` as hypothesis-jsonschema 0.23 expects it, on the newer Hypothesis
    whose ``many`` is a context manager iterated with ``for``."""

    def __init__(self, data, min_size, max_size, average_size) -> None:
        from hypothesis.internal.conjecture import utils as cu

        self._many = cu.many(data, min_size=min_size, max_size=max_size,
                             average_size=average_size)
        self._many.__enter__()
        self._iter = iter(self._many)

    def more(self) -> bool:
        try:
            next(self._iter)
        except StopIteration:
            self._many.__exit__(None, None, None)
            return False
        return True

    def reject(self, why: str | None = None) -> None:
        self._many.reject()


@pytest.fixture(autouse=True)
def _hypothesis_jsonschema_compat(monkeypatch):
    """Bridge hypothesis-jsonschema 0.23.1 to the installed Hypothesis when they disagree."""
    import types

    from hypothesis.internal.conjecture import utils as cu
    from hypothesis_jsonschema import _from_schema

    if hasattr(cu.many, "more"):
        return
    shim = types.SimpleNamespace(**{k: getattr(cu, k) for k in dir(cu) if not k.startswith("__")})
    shim.many = _LegacyMany
    monkeypatch.setattr(_from_schema, "cu", shim)


# Small on purpose: ~30 operations x this many cases stays well under 30 s.
MAX_EXAMPLES = 8


@pytest.fixture
def served(tmp_path, db_url, broker):
    """A bridge server process on the test database, with an admin and a mini-program token."""
    import asyncio

    from cloud_bridge.db import Database

    async def seed() -> None:
        async with Database(db_url) as db:
            await store_events(db, [("s1", "k1", order_event("s1", "k1", 0, "S1-0").encode())],
                               worker="t", tz="Asia/Shanghai")
            async with db.session() as s:
                await auth.create_admin_user(s, "boss", "secret-boss", auth.HEAD_OFFICE)

    asyncio.run(seed())
    cfg = write_config(tmp_path / "bridge.toml", db_url=db_url, worker="fuzz",
                       mqtt_port=broker.port)
    # A command signing key, so that the command route signs and publishes for real.
    key = {"BRIDGE_COMMAND_SIGNING_KEY": os.urandom(32).hex()}
    proc = BridgeProcess(cfg, tmp_path / "bridge.log", env=key).start()
    _wait_mqtt(proc.url)
    try:
        base = proc.url
        r = requests.post(base + "/api/v1/admin/session",
                          json={"username": "boss", "secret": "secret-boss"}, timeout=10)
        admin = r.json()["token"]
        r = requests.post(base + "/api/v1/mp/session", json={"code": "fuzzer"}, timeout=10)
        mp = r.json()["token"]
        yield base, admin, mp, proc
    finally:
        proc.stop()


def _wait_mqtt(base: str) -> None:
    deadline = time.monotonic() + 10
    while requests.get(base + "/api/v1/health", timeout=5).json()["mqtt"] is not True:
        assert time.monotonic() < deadline, "bridge did not connect to the broker"
        time.sleep(0.05)


def test_no_server_errors(served):
    base, admin, mp, proc = served
    schema = schemathesis.from_uri(base + "/api/v1/openapi.json", base_url=base)
    failures: list[str] = []
    calls = 0
    session = requests.Session()
    def fuzz(operation, token: str) -> None:
        nonlocal calls
        headers = {"Authorization": f"Bearer {token}"}

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case) -> None:
            nonlocal calls
            response = case.call(session=session, headers=headers, timeout=10)
            calls += 1
            if response.status_code >= 500:
                failures.append(f"{operation.verbose_name}: {response.status_code} "
                                f"{response.text[:200]} for {case.as_curl_command()}")
            elif response.status_code >= 400:
                assert response.headers["Content-Type"].startswith("application/problem+json")

        run()

    for result in schema.get_all_operations():
        operation = result.ok()
        fuzz(operation, admin if operation.path.startswith("/api/v1/admin") else mp)
    assert calls > 100
    assert proc.proc.poll() is None, "the server died"
    assert not failures, "\n".join(failures[:10])
