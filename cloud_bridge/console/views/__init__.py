"""The console's own pages (what the bridge has today); domains add theirs in their folder."""

from __future__ import annotations

from cloud_bridge.auth import BUYER, FINANCE, HEAD_OFFICE, ROLES, STORE_STAFF

from ..page import Page
from . import audit, catalog, dashboard, fleet, jobs, orders, payments, refunds, stock, users

OPS = (HEAD_OFFICE, STORE_STAFF)
HQ = (HEAD_OFFICE,)
MONEY = (HEAD_OFFICE, STORE_STAFF, FINANCE)
STOCK = (HEAD_OFFICE, STORE_STAFF, BUYER)
PAY = (HEAD_OFFICE, FINANCE)

PAGES: list[Page] = [
    Page("", "概览", "Dashboard", dashboard.dashboard, "dashboard.html", "overview",
         roles=ROLES, order=0),
    # sales
    Page("orders", "订单", "Orders", orders.order_list, "orders.html", "sales", roles=MONEY,
         order=10),
    Page("orders/export", "导出订单", "Export orders", orders.order_export, None, "sales",
         roles=MONEY, method="POST", nav=False),
    Page("orders/{order_no}", "订单详情", "Order", orders.order_detail, "order_detail.html",
         "sales", roles=MONEY, nav=False),
    Page("orders/{order_no}/refund", "确认退款", "Confirm refund", orders.refund_confirm,
         "order_refund_confirm.html", "sales", roles=OPS, method="POST", nav=False),
    Page("orders/{order_no}/refund/execute", "退款结果", "Refund result", orders.refund_execute,
         "order_refund_done.html", "sales", roles=OPS, method="POST", nav=False),
    Page("refunds", "退款与退货", "Refunds and returns", refunds.refunds_page, "refunds.html",
         "sales", roles=MONEY, order=20),
    # stock
    Page("stock", "库存与提醒", "Stock and alerts", stock.stock_page, "stock.html", "stock",
         roles=STOCK, order=10),
    Page("stock/alerts/{alert_id}/resolve", "处理提醒", "Resolve alert", stock.resolve_alert,
         None, "stock", roles=OPS, method="POST", nav=False),
    Page("catalog", "价目表", "Price books", catalog.books, "books.html", "stock",
         roles=(HEAD_OFFICE, STORE_STAFF, BUYER), order=20),
    Page("catalog/publish", "确认发布", "Confirm publishing", catalog.publish_confirm,
         "confirm.html", "stock", roles=HQ, method="POST", nav=False),
    Page("catalog/publish/execute", "发布价目表", "Publish price book", catalog.publish_execute,
         "books.html", "stock", roles=HQ, method="POST", nav=False),
    # fleet
    Page("fleet", "收银机", "Kiosks", fleet.fleet_page, "fleet.html", "fleet", roles=OPS,
         order=10),
    Page("fleet/events", "收银机实时", "Kiosks live", fleet.fleet_events, None, "fleet",
         roles=OPS, nav=False),
    Page("fleet/{store}/{kiosk}", "收银机详情", "Kiosk", fleet.kiosk_view, "kiosk.html",
         "fleet", roles=OPS, nav=False),
    Page("fleet/{store}/{kiosk}/command", "确认指令", "Confirm command", fleet.command_confirm,
         "confirm.html", "fleet", roles=OPS, method="POST", nav=False),
    Page("fleet/{store}/{kiosk}/command/send", "发送指令", "Send command", fleet.command_send,
         "kiosk.html", "fleet", roles=OPS, method="POST", nav=False),
    Page("fleet/{store}/{kiosk}/shadow", "确认配置", "Confirm configuration",
         fleet.shadow_confirm, "confirm.html", "fleet", roles=OPS, method="POST", nav=False),
    Page("fleet/{store}/{kiosk}/shadow/publish", "发布配置", "Publish configuration",
         fleet.shadow_publish, "kiosk.html", "fleet", roles=OPS, method="POST", nav=False),
    # payments
    Page("payments", "支付与对账", "Payments and reconciliation", payments.payments_page,
         "payments.html", "payments", roles=PAY, order=10),
    Page("payments/reconcile", "对账", "Reconcile", payments.reconcile_start, None,
         "payments", roles=PAY, method="POST", nav=False),
    Page("jobs/{job_id}", "任务", "Job", jobs.job_page, "job.html", "overview", roles=ROLES,
         nav=False),
    Page("jobs/{job_id}/file", "下载", "Download", jobs.job_file, None, "overview",
         roles=ROLES, nav=False),
    # administration
    Page("users", "用户与角色", "Users and roles", users.users, "users.html", "admin",
         roles=HQ, order=10),
    Page("users/add", "新增用户", "Add user", users.user_add, "users.html", "admin", roles=HQ,
         method="POST", nav=False),
    Page("users/{user_id}/toggle", "停用/启用", "Disable/enable", users.user_toggle,
         "users.html", "admin", roles=HQ, method="POST", nav=False),
    Page("audit", "操作审计", "Audit trail", audit.audit_page, "audit.html", "admin",
         roles=(HEAD_OFFICE, STORE_STAFF, FINANCE), order=20),
]
