"""Supply chain (供应链): stock by lot with expiry, suppliers and contracts, purchasing,
receiving with ISO 2859-1 inspection, returns to suppliers, replenishment and risk.

Other domains use :mod:`cloud_bridge.supply.service` only.
"""

from cloud_bridge import inventory as _inventory

from .stock import record_stock_deltas as _record_stock_deltas

# Sales and every other stock change take units from lots (FEFO) in the same
# transaction: supply follows the core stock table, which never imports supply.
_inventory.observe_stock(_record_stock_deltas)
