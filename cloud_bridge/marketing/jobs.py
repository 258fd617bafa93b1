"""Scheduled work of marketing: flash sale and group buying bookkeeping.

:func:`after_unpaid_closed` runs in the mini-program close job
(:mod:`cloud_bridge.mp_pay.runtime`), right after it cancelled the orders left unpaid:
flash sale units of those orders go back on sale, group seats are given back, full
groups complete, expired ones fail and their paid members are refunded. Every step is
conditional, so every worker may run it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import flash, groups

if TYPE_CHECKING:
    from ..db import Database
    from ..payments.runtime import RefundExecutor


async def after_unpaid_closed(db: Database, refunds: RefundExecutor | None) -> None:
    """Release what cancelled deal orders held; move groups along (see module docstring)."""
    await flash.release_cancelled(db)
    await groups.sweep(db, refunds)
