"""Every MQTT topic of the system. No topic string is written anywhere else.

Layout (see DESIGN.md)::

    kiosk/v1/{store}/{kiosk}/{leaf}    per kiosk
    kiosk/v1/{store}/catalog           retained price-book pointer per store
    kiosk/v1/{store}/stock_alerts      retained open stock alerts per store (staff TUI)
    kiosk/v1/{store}/mp_orders         retained new mini-program orders per store (staff TUI)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "kiosk/v1"

# MQTT shared-subscription group of the cloud bridge workers.
BRIDGE_SHARE_GROUP = "bridge"

STATUS = "status"
TELEMETRY = "telemetry"
EVENTS = "events"
EVENTS_ACK = "events/ack"
RPC_REQ = "rpc/req"
RPC_RES = "rpc/res"
CMD = "cmd"
CMD_RES = "cmd/res"
SHADOW_DESIRED = "shadow/desired"
SHADOW_REPORTED = "shadow/reported"
CATALOG = "catalog"
# Retained per store: the store's open stock alerts for the staff TUI (contract.wire.stock).
STOCK_ALERTS = "stock_alerts"
# Retained per store: the store's paid mini-program orders not yet acknowledged by staff
# (contract.wire.mp_orders), issue 19.
MP_ORDERS = "mp_orders"
# 呼叫店员: the kiosk's retained staff call (active until staff answer it), issue 11.
STAFF_CALL = "staff/call"

KIOSK_LEAVES = (
    STATUS, TELEMETRY, EVENTS, EVENTS_ACK, RPC_REQ, RPC_RES, CMD, CMD_RES,
    SHADOW_DESIRED, SHADOW_REPORTED, STAFF_CALL,
)

# Leaves published by kiosks and consumed by the bridge.
KIOSK_TO_CLOUD = (STATUS, TELEMETRY, EVENTS, RPC_REQ, CMD_RES, SHADOW_REPORTED, STAFF_CALL)
# Leaves published by the bridge and consumed by one kiosk.
CLOUD_TO_KIOSK = (EVENTS_ACK, RPC_RES, CMD, SHADOW_DESIRED)

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def valid_id(value: str) -> bool:
    """Store and kiosk ids: 1-64 of ``[A-Za-z0-9_-]`` (no MQTT wildcards or separators)."""
    return bool(_ID.match(value))


@dataclass(frozen=True, slots=True)
class KioskTopics:
    """The topics of one kiosk."""

    store: str
    kiosk: str

    def __post_init__(self) -> None:
        for name, value in (("store", self.store), ("kiosk", self.kiosk)):
            if not valid_id(value):
                raise ValueError(f"{name} id {value!r} must match [A-Za-z0-9_-]{{1,64}}")

    @property
    def base(self) -> str:
        return f"{PREFIX}/{self.store}/{self.kiosk}"

    def leaf(self, leaf: str) -> str:
        return f"{self.base}/{leaf}"

    @property
    def status(self) -> str:
        return self.leaf(STATUS)

    @property
    def telemetry(self) -> str:
        return self.leaf(TELEMETRY)

    @property
    def events(self) -> str:
        return self.leaf(EVENTS)

    @property
    def events_ack(self) -> str:
        return self.leaf(EVENTS_ACK)

    @property
    def rpc_req(self) -> str:
        return self.leaf(RPC_REQ)

    @property
    def rpc_res(self) -> str:
        return self.leaf(RPC_RES)

    @property
    def cmd(self) -> str:
        return self.leaf(CMD)

    @property
    def cmd_res(self) -> str:
        return self.leaf(CMD_RES)

    @property
    def shadow_desired(self) -> str:
        return self.leaf(SHADOW_DESIRED)

    @property
    def shadow_reported(self) -> str:
        return self.leaf(SHADOW_REPORTED)

    @property
    def staff_call(self) -> str:
        return self.leaf(STAFF_CALL)

    @property
    def catalog(self) -> str:
        return store_catalog(self.store)

    @property
    def stock_alerts(self) -> str:
        return store_stock_alerts(self.store)

    @property
    def mp_orders(self) -> str:
        return store_mp_orders(self.store)


def store_catalog(store: str) -> str:
    """Retained pointer to the store's current price-book version."""
    return f"{PREFIX}/{store}/{CATALOG}"


def store_stock_alerts(store: str) -> str:
    """Retained snapshot of the store's open stock alerts (bridge -> the store's kiosks)."""
    return f"{PREFIX}/{store}/{STOCK_ALERTS}"


def store_mp_orders(store: str) -> str:
    """Retained snapshot of the store's new mini-program orders (bridge -> its kiosks)."""
    return f"{PREFIX}/{store}/{MP_ORDERS}"


def bridge_subscription(leaf: str, shared: bool = True) -> str:
    """Wildcard subscription over all kiosks for ``leaf``; shared among bridge workers."""
    topic = f"{PREFIX}/+/+/{leaf}"
    return f"$share/{BRIDGE_SHARE_GROUP}/{topic}" if shared else topic


def parse_kiosk_topic(topic: str) -> tuple[str, str, str] | None:
    """``kiosk/v1/S/K/leaf`` -> ``(S, K, leaf)``; ``None`` for anything else."""
    if not topic.startswith(PREFIX + "/"):
        return None
    parts = topic[len(PREFIX) + 1 :].split("/", 2)
    if len(parts) != 3:
        return None
    store, kiosk, leaf = parts
    if not (valid_id(store) and valid_id(kiosk)) or leaf not in KIOSK_LEAVES:
        return None
    return store, kiosk, leaf
