"""What other domains (and the supply API, jobs and CLI) call: the supply chain's rules.

The rules live in modules by concern; this module is the domain's one public face.
"""

from __future__ import annotations

from .alerts import scan_stock_alerts, set_alert_state
from .stock import (
    lots,
    movements,
    post_count,
    receive_into_lot,
    receive_transfer,
    record_stock_deltas,
    send_transfer,
    take_from_lots,
    write_off,
)

__all__ = [
    "lots",
    "movements",
    "post_count",
    "receive_into_lot",
    "receive_transfer",
    "record_stock_deltas",
    "scan_stock_alerts",
    "send_transfer",
    "set_alert_state",
    "take_from_lots",
    "write_off",
]
