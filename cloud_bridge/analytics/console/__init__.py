"""Console pages of analytics: any metric as a table with its chart (SVG inline, PNG link).

The same table the admin API serves (``service.metric_table``), in the "Analytics" group;
head office and finance see every store, store staff their own.
"""

from cloud_bridge.auth import FINANCE, HEAD_OFFICE, STORE_STAFF
from cloud_bridge.console.page import Page

from . import views

ROLES = (HEAD_OFFICE, STORE_STAFF, FINANCE)

PAGES = [
    Page("analytics/metrics", "经营分析", "Analytics", views.metrics_page,
         "analytics_metrics.html", group="analytics", roles=ROLES, order=10),
    Page("analytics/metrics/png", "图表", "Chart", views.metric_png, None,
         group="analytics", roles=ROLES, nav=False),
]
LABELS = {
    "ana.metric": ("指标", "Metric"),
    "ana.start": ("开始日期", "From"),
    "ana.end": ("结束日期", "To"),
    "ana.by": ("分组", "Group by"),
    "ana.by.none": ("不分组", "None"),
    "ana.png": ("下载图表 (PNG)", "Chart as PNG"),
    "ana.none": ("此期间没有数据", "No data in this period"),
    "ana.m.sales_by_product": ("商品销售", "Sales by product"),
    "ana.m.sales_by_category": ("品类销售", "Sales by category"),
    "ana.m.sales_by_store": ("门店销售", "Sales by store"),
    "ana.m.sales_by_day": ("每日销售", "Sales by day"),
    "ana.m.sales_by_hour": ("分时销售", "Sales by hour"),
    "ana.m.average_order_value": ("客单价", "Average order value"),
    "ana.m.payment_mix": ("支付方式构成", "Payment mix"),
    "ana.m.repurchase_rate": ("复购率", "Repurchase rate"),
    "ana.m.retention_cohorts": ("留存", "Retention cohorts"),
    "ana.m.conversion_funnel": ("转化漏斗", "Conversion funnel"),
    "ana.m.kiosk_sessions": ("自助收银会话", "Kiosk sessions"),
    "ana.m.session_errors": ("会话错误", "Session errors"),
}
