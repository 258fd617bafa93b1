"""Staff-facing labels: Chinese first, English on the toggle key."""

from __future__ import annotations

LANGS = ("zh", "en")

TEXT: dict[str, tuple[str, str]] = {
    # screens
    "dashboard": ("看板", "Dash"),
    "orders": ("订单", "Orders"),
    "queue": ("队列", "Queue"),
    "devices": ("设备", "Devices"),
    "config": ("配置", "Config"),
    "logs": ("日志", "Logs"),
    "stock": ("库存预警", "Stock"),
    # global keys
    "lang": ("English", "中文"),
    "pin": ("解锁/锁定", "Unlock/Lock"),
    "quit": ("退出", "Quit"),
    # status bar
    "locked": ("已锁定", "LOCKED"),
    "unlocked": ("已解锁", "UNLOCKED"),
    "agent_ok": ("代理正常", "agent OK"),
    "agent_down": ("代理未运行", "agent not running"),
    # dashboard
    "link": ("链路", "Link"),
    "online": ("在线", "online"),
    "offline": ("离线", "offline"),
    "queue_depth": ("待发事件", "Queued events"),
    "oldest_unsent": ("最早未发", "Oldest unsent"),
    "dead_letters": ("死信", "Dead letters"),
    "printer": ("打印机", "Printer"),
    "paper": ("纸张", "Paper"),
    "camera": ("摄像头", "Camera"),
    "decode": ("解码", "Decode"),
    "display": ("顾客屏", "Display"),
    "scanner": ("扫码枪", "Scanner"),
    "journal": ("本地账本", "Journal"),
    "scale": ("电子秤", "Scale"),
    "storage": ("本地存储", "Storage"),
    "network": ("网络", "Network"),
    "sales_today": ("今日销售", "Today's sales"),
    "orders_n": ("单", "orders"),
    "maintenance": ("维护模式", "Maintenance"),
    "on": ("开", "ON"),
    "off": ("关", "off"),
    "state": ("状态", "State"),
    "last_scans": ("最近扫码", "Last scans"),
    "toggle_maintenance": ("维护开关", "Maint."),
    # orders
    "search": ("搜索", "Search"),
    "search_hint": ("订单号 / 会员 / 商品 / 条码，回车搜索", "order no / member / product / barcode, Enter"),
    "reprint": ("重印", "Reprint"),
    "order_no": ("订单号", "Order no"),
    "time": ("时间", "Time"),
    "total": ("合计", "Total"),
    "lines": ("行数", "Lines"),
    "member": ("会员", "Member"),
    "no_order_selected": ("先选择一个订单", "select an order first"),
    "reprint_queued": ("已加入重印队列", "reprint queued"),
    "take_parked": ("接收挂单", "Take parked"),
    "park_no_prompt": ("输入挂单号（如 P20261205-kiosk1-001）", "Park number (e.g. P20261205-kiosk1-001)"),
    "parked_taken": ("已转入本机，请顾客付款", "now in this kiosk's cart: the shopper pays here"),
    # stock alerts (from the cloud's supply chain)
    "stock_kind": ("类型", "Kind"),
    "stock_product": ("商品", "Product"),
    "stock_detail": ("详情", "Detail"),
    "stock_state": ("状态", "State"),
    "stock_stockout": ("缺货", "Stockout"),
    "stock_near_expiry": ("临期", "Near expiry"),
    "stock_below_reorder_point": ("需补货", "Reorder"),
    "stock_overstock": ("积压", "Overstock"),
    "stock_open": ("待处理", "open"),
    "stock_acknowledged": ("已确认", "acked"),
    "stock_lot": ("批次", "Lot"),
    "stock_days": ("天", " days"),
    "stock_expired": ("已过期", "expired"),
    "stock_on_hand": ("库存", "On hand"),
    "stock_rop": ("补货点", "Reorder point"),
    "stock_alerts_count": ("条库存预警", "stock alerts"),
    "stock_as_of": ("更新于", "as of"),
    "stock_none": ("暂无库存预警", "no stock alerts"),
    "stock_not_received": ("尚未收到云端的库存预警（链路未连接？）",
                           "stock alerts not received from the cloud yet (link down?)"),
    # queue
    "retry": ("重试", "Retry"),
    "discard": ("丢弃", "Discard"),
    "event": ("事件", "Event"),
    "type": ("类型", "Type"),
    "reason": ("原因", "Reason"),
    "failed_at": ("失败时间", "Failed at"),
    "no_letter_selected": ("先选择一条死信", "select a dead letter first"),
    "retried": ("已重新排队", "queued again"),
    "discarded": ("已丢弃", "discarded"),
    "discard_reason": ("丢弃原因（必填）", "Reason to discard (required)"),
    "no_dead_letters": ("没有死信", "no dead letters"),
    # devices
    "test_page": ("测试页", "Test page"),
    "display_test": ("屏幕测试", "Display test"),
    "snapshot": ("拍照", "Snapshot"),
    "decode_check": ("解码检查", "Decode check"),
    "test_page_sent": ("测试页已发送", "test page sent"),
    "display_test_sent": ("顾客屏测试已发送", "display test sent"),
    "no_snapshot": ("尚未拍照（按 s）", "no snapshot yet (press s)"),
    "device": ("设备", "Device"),
    "device_state": ("状态", "State"),
    "what_to_do": ("处理方法", "What to do"),
    "for_support": ("技术信息（联系技术支持时提供）", "Technical details (for support)"),
    # staff call (呼叫店员) on the dashboard
    "staff_call": ("顾客呼叫店员", "Shopper called staff"),
    "staff_call_since": ("呼叫于", "called at"),
    "answer_call": ("已到场", "Answered"),
    "call_answered": ("呼叫已处理", "call answered"),
    "no_call": ("没有呼叫", "no call open"),
    # config / logs
    "key": ("键", "Key"),
    "value": ("值", "Value"),
    "source": ("来源", "Source"),
    "warnings_only": ("仅警告", "Warnings"),
    # PIN
    "pin_prompt": ("请输入员工 PIN", "Enter the staff PIN"),
    "pin_wrong": ("PIN 错误", "wrong PIN"),
    "pin_cancel": ("取消", "Cancel"),
    "pin_ok": ("已解锁", "unlocked"),
    "relocked": ("空闲超时，已重新锁定", "locked again after idle"),
    "locked_now": ("已锁定", "locked"),
    "not_supported": ("代理不支持此功能", "not supported by this agent"),
    "maintenance_on": ("维护模式已开启", "maintenance ON"),
    "maintenance_off": ("维护模式已关闭", "maintenance off"),
}


def t(key: str, lang: str) -> str:
    """The label for ``key`` in ``lang`` ("zh" or "en"); the key itself when unknown."""
    pair = TEXT.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]
