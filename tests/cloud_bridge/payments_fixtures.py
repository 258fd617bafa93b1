"""Fixtures of the payments tests (imported by the test modules that use them)."""

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


@pytest.fixture
async def sandbox(tmp_path):
    """All sandbox gateways on free ports; timeouts hold responses for 1.5 s."""
    async with Sandbox(tmp_path / "keys", hold_s=1.5) as sb:
        yield sb


@pytest.fixture
async def providers(sandbox):
    """Provider clients configured from the sandbox manifest (0.5 s request timeout)."""
    settings = PaymentSettings.from_manifest(sandbox.manifest, request_timeout_s=0.5)
    provs = build_providers(settings)
    yield provs
    for p in provs.values():
        await p.close()
