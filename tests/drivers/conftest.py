"""Fixtures for the driver tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.fake_printer import FakeNetworkPrinter
from kiosk_agent.wire.events import OrderCompletedData

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def reference_order() -> OrderCompletedData:
    """The reference order the golden receipts are rendered from."""
    return OrderCompletedData.model_validate(
        json.loads((GOLDEN / "order_reference.json").read_text(encoding="utf-8"))
    )


@pytest.fixture
def fake_printer():
    """A fake ESC/POS network printer on a free 127.0.0.1 port."""
    with FakeNetworkPrinter() as fake:
        yield fake
