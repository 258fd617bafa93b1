"""The TUI's screens: Dashboard, Orders, Queue, Devices, Config, Logs, Stock, MP orders (a
module each).

Each screen fetches what it shows in :meth:`KioskScreen.refresh_data` (called by the
app every ~1.5 s while it is on top) and re-labels itself in :meth:`relabel` when
staff switch the language. State-changing keys go through ``app.guarded(...)``,
which asks for the staff PIN first when the session is locked.
"""

from ..client import AgentUnavailable
from .base import BilingualActions, KioskScreen, bilingual
from .config import ConfigScreen
from .dashboard import DashboardScreen
from .devices import DevicesScreen, half_block_image
from .logs import LogsScreen
from .mp_orders import MpOrdersScreen
from .orders import OrdersScreen
from .queue import QueueScreen
from .stock import StockScreen

SCREENS: dict[str, type[KioskScreen]] = {
    "dashboard": DashboardScreen,
    "orders": OrdersScreen,
    "queue": QueueScreen,
    "devices": DevicesScreen,
    "config": ConfigScreen,
    "logs": LogsScreen,
    "stock": StockScreen,
    "mp_orders": MpOrdersScreen,
}

__all__ = [
    "SCREENS",
    "AgentUnavailable",
    "BilingualActions",
    "ConfigScreen",
    "DashboardScreen",
    "DevicesScreen",
    "KioskScreen",
    "LogsScreen",
    "MpOrdersScreen",
    "OrdersScreen",
    "QueueScreen",
    "StockScreen",
    "bilingual",
    "half_block_image",
]
