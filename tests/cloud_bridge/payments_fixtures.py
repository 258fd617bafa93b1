"""Fixtures of the payments tests: a pytest plugin (``pytest_plugins`` in tests/conftest.py).

Test modules use the fixtures by name and import only the plain helpers
(``trade_no``, ``wechat_code``, ``alipay_code``).
"""

from __future__ import annotations

import itertools
import random

import pytest

from cloud_bridge.payments.config import PaymentSettings, build_providers
from cloud_bridge.payments.sandbox import Sandbox

_seq = itertools.count(1)


def wechat_code() -> str:
    """A fresh, well-formed WeChat payment code (18 digits, 10..15 prefix)."""
    return f"13{random.randrange(10**15, 10**16)}"


def alipay_code() -> str:
    """A fresh, well-formed Alipay payment code (18 digits, 25..30 prefix)."""
    return f"28{random.randrange(10**15, 10**16)}"


def trade_no(prefix: str = "T") -> str:
    return f"{prefix}{random.randrange(10**9):09d}{next(_seq):05d}"


@pytest.fixture(scope="session")
def sandbox_keys():
    """Sandbox RSA keys generated once per session (4 x 2048-bit keys are slow to make)."""
    from cloud_bridge.payments.sandbox.alipay import AlipayKeys
    from cloud_bridge.payments.sandbox.wechat import WechatKeys

    return WechatKeys(), AlipayKeys()


@pytest.fixture
async def sandbox(tmp_path, sandbox_keys):
    """All sandbox gateways on free ports; timeouts hold responses for 1.5 s."""
    async with Sandbox(tmp_path / "keys", hold_s=1.5, wechat_keys=sandbox_keys[0],
                       alipay_keys=sandbox_keys[1]) as sb:
        yield sb


@pytest.fixture
async def providers(sandbox):
    """Provider clients configured from the sandbox manifest (0.5 s request timeout)."""
    settings = PaymentSettings.from_manifest(sandbox.manifest, request_timeout_s=0.5)
    provs = build_providers(settings)
    yield provs
    for p in provs.values():
        await p.close()


FAST_POLICY = dict(query_window_s=0.8, query_interval_s=0.1, query_interval_max_s=0.2,
                   reverse_attempts=5, reverse_interval_s=0.05, charge_stale_s=0.5)


@pytest.fixture
async def pay_db(db):
    """The bridge test database with every table, payments' included: SQLite and, when
    reachable, PostgreSQL (``db`` from the cloud bridge conftest)."""
    yield db


@pytest.fixture
async def pay_service(pay_db, providers):
    """A PaymentService on the sandbox with settlement timings shrunk for tests."""
    from cloud_bridge.payments.providers.stored_value import StoredValueProvider
    from cloud_bridge.payments.service import PaymentService
    from cloud_bridge.payments.settlement import SettlementPolicy

    svc = PaymentService(pay_db, {**providers, "stored_value": StoredValueProvider(pay_db)},
                         SettlementPolicy(**FAST_POLICY))
    yield svc
