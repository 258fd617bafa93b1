"""Helpers for the link's tests: fast timing constants and a kiosk link on a test broker."""

from __future__ import annotations

import pytest

from kiosk_agent import link as link_mod
from kiosk_agent import outbox as outbox_mod
from kiosk_agent.config import MqttSection


def shrink_timings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnect within tens of ms and re-check the offline policy often."""
    monkeypatch.setattr(link_mod, "RECONNECT_MIN_S", 0.05)
    monkeypatch.setattr(link_mod, "RECONNECT_MAX_S", 0.2)
    monkeypatch.setattr(outbox_mod, "OFFLINE_CHECK_S", 0.2)


def mqtt_section(port: int, username: str | None = None) -> MqttSection:
    """``[mqtt]`` pointing at a test broker."""
    return MqttSection(host="127.0.0.1", port=port, username=username, keepalive_s=5)
