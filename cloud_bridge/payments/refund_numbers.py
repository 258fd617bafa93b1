"""Refund numbers the bridge makes itself (orphan and late-paid refunds).

A leaf module: the orphan sweep, the late-paid path and the tests name these numbers
without importing each other.
"""

from __future__ import annotations

import hashlib

# Provider limit of an out_refund_no / out_request_no (WeChat, Alipay: 64 characters).
MAX_REFUND_NO = 64


def orphan_refund_no(out_trade_no: str) -> str:
    """The refund number of an orphan payment: the same for every sweep and worker."""
    no = f"OR-{out_trade_no}"
    if len(no) <= MAX_REFUND_NO:
        return no
    return "OR-" + hashlib.sha256(out_trade_no.encode()).hexdigest()[:40]
