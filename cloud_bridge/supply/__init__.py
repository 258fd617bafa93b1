"""Supply chain (供应链): stock by lot with expiry, suppliers and contracts, purchasing,
receiving with ISO 2859-1 inspection, returns to suppliers, replenishment and risk.

Other domains use :mod:`cloud_bridge.supply.service` only.
"""
