"""Payments: provider clients, local sandbox gateways, settlement, refunds, reconciliation.

Money is integer minor units plus an ISO currency everywhere; payment codes
(``auth_code``) exist only in memory for the one request that needs them.
"""
