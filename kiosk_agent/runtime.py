"""What one running kiosk is made of, typed: the ``KioskRuntime`` of an :class:`Agent`.

``build_agent`` (:mod:`kiosk_agent.agent`) calls the factories of
:mod:`kiosk_agent.assembly` in code order and keeps what each built in a field of the
agent's :class:`KioskRuntime` (the idea of Home Assistant's ``runtime_data``): the
control API, telemetry and fleet commands read ``agent.runtime.printer`` rather than
an attribute hung on the agent later or a component found by its factory's name.
A component is anything with ``run(stop_event)``; one that reports health has
``health() -> dict`` (:class:`HealthReporter`), read under the name it is registered
with: the device names staff use (``printer``, ``camera``, ``display``, ``link``, ...).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from common.jsontypes import JsonMapping, JsonObject

if TYPE_CHECKING:
    from .assembly import (
        CatalogComponent,
        DisplayComponent,
        OutboxComponent,
        PrinterComponent,
        ScanComponent,
    )
    from .badges import StaffBadges
    from .cart_edits import CartEdits
    from .catalog_sync import CatalogSync
    from .control.server import ControlComponent
    from .coupons import KioskCoupons
    from .link import Link
    from .mp_orders import MpOrderBoard
    from .outbox import OutboxDrainer
    from .qr_sale import QrSale
    from .sdnotify import AgentNotifyComponent
    from .session_summary import SessionRecorder
    from .shadow import Shadow
    from .staff_calls import StaffCalls
    from .stock_alerts import StockAlertBoard

#: Scans shown in the control API's status (``runtime.last_scans``).
LAST_SCANS = 20


@runtime_checkable
class Component(Protocol):
    """A long-lived part of the agent, run in its TaskGroup until the stop event
    (:meth:`~kiosk_agent.agent.Agent.add_component`; a coroutine function does too)."""

    async def run(self, stop: asyncio.Event) -> None: ...


@runtime_checkable
class HealthReporter(Protocol):
    """A component that reports its state (``{"state": ..., "reason": ...}``)."""

    def health(self) -> JsonMapping: ...


@dataclass(slots=True)
class KioskRuntime:
    """The parts ``build_agent`` wired, each with its type (``None`` when turned off)."""

    control: ControlComponent | None = None
    notify: AgentNotifyComponent | None = None
    link: Link | None = None
    outbox: OutboxDrainer | None = None
    outbox_component: OutboxComponent | None = None
    shadow: Shadow | None = None
    catalog_sync: CatalogSync | None = None
    catalog: CatalogComponent | None = None
    # The store's stock alerts from the bridge (retained), for the staff TUI.
    stock_alerts: StockAlertBoard | None = None
    # The store's new mini-program orders from the bridge (retained), for the staff TUI.
    mp_orders: MpOrderBoard | None = None
    scans: ScanComponent | None = None
    printer: PrinterComponent | None = None
    display: DisplayComponent | None = None
    # Cart edits and staff voids (kiosk_agent.cart_edits), made on first use.
    cart_edits: CartEdits | None = None
    # The badge verifier of the control API's badge fields (made on first use).
    staff_badges: StaffBadges | None = None
    # 呼叫店员: the open staff call (kiosk_agent.staff_calls), made on first use.
    staff_calls: StaffCalls | None = None
    # Coupon QRs and the offline coupon slot pool (kiosk_agent.coupons), made on first use.
    coupons: KioskCoupons | None = None
    # 扫码支付: the shopper's open Native QR payment (kiosk_agent.qr_sale), made on first use.
    qr_sale: QrSale | None = None
    # Shopper sessions counted for their session.summary events (kiosk_agent.session_summary).
    sessions: SessionRecorder | None = None
    # What the shadow last applied ({section: {field: value}}), for the control API.
    shadow_applied: JsonObject = field(default_factory=dict)
    # The last scans (masked), newest last, for the control API's status.
    last_scans: list[JsonObject] = field(default_factory=list)

    def remember_scan(self, entry: JsonObject) -> None:
        self.last_scans.append(entry)
        del self.last_scans[:-LAST_SCANS]
