"""The console's own pages (what the bridge has today); domains add theirs in their folder."""

from __future__ import annotations

from cloud_bridge.auth import BUYER, FINANCE, HEAD_OFFICE, ROLES, STORE_STAFF

from ..pages import Page
from . import dashboard, orders

OPS = (HEAD_OFFICE, STORE_STAFF)
HQ = (HEAD_OFFICE,)
MONEY = (HEAD_OFFICE, STORE_STAFF, FINANCE)
STOCK = (HEAD_OFFICE, STORE_STAFF, BUYER)

PAGES: list[Page] = [
    Page("", "概览", "Dashboard", dashboard.dashboard, "dashboard.html", "overview",
         roles=ROLES, order=0),
    Page("orders", "订单", "Orders", orders.order_list, "orders.html", "sales", roles=MONEY,
         order=10),
    Page("orders/{order_no}", "订单详情", "Order", orders.order_detail, "order_detail.html",
         "sales", roles=MONEY, nav=False),
    Page("orders/{order_no}/refund", "确认退款", "Confirm refund", orders.refund_confirm,
         "order_refund_confirm.html", "sales", roles=OPS, method="POST", nav=False),
    Page("orders/{order_no}/refund/execute", "退款结果", "Refund result", orders.refund_execute,
         "order_refund_done.html", "sales", roles=OPS, method="POST", nav=False),
]
