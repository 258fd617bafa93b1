"""Routes of the supply domain (``/api/v1/admin/supply/...``), by concern."""

from __future__ import annotations

from .api_purchasing import ROUTES as PURCHASING
from .api_stock import ROUTES as STOCK
from .api_suppliers import ROUTES as SUPPLIERS

ROUTES = STOCK + SUPPLIERS + PURCHASING
