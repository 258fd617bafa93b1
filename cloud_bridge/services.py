"""The bridge's long-lived services, typed: one :class:`BridgeServices` per app.

Handlers reach it through ``request.app[SERVICES_KEY]`` (:mod:`cloud_bridge.keys`) and
RPC handlers through ``ctx.services``; each field has its type, so nothing is looked up
by a hand-spelled name. A business domain with long-lived objects of its own (a chat
hub, a job runner) declares its own ``web.AppKey`` in its folder instead of adding a
field here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contract.pricebook import PriceBook

    from .config import BridgeConfig
    from .ingest import Ingest
    from .payments.runtime import RefundExecutor
    from .payments.service import PaymentService


@dataclass(slots=True)
class BridgeServices:
    """Everything the routes and RPC handlers of one bridge process share."""

    config: BridgeConfig
    ingest: Ingest | None = None
    payments: PaymentService | None = None
    refunds: RefundExecutor | None = None
    # One announcer at a time in this process, so that an older catalog pointer never wins.
    catalog_announce_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Parsed price books by store: (sha256, book), so each version is parsed once.
    catalog_books: dict[str, tuple[str, PriceBook]] = field(default_factory=dict)
    # The ``[mp] price_book`` file, parsed on first use (mini-program ordering fallback).
    mp_price_book: PriceBook | None = None
