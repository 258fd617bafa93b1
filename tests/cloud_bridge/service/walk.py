"""The customer-service part of the OpenAPI success walk (``test_openapi_fuzz``): each
operation called once with a realistic request, its reply validated against the document."""

from __future__ import annotations

import json
from typing import Any

from cloud_bridge.service import kuaidi100 as k100
from cloud_bridge.service.tracking import NOTIFY_PATH, SANDBOX_CUSTOMER, SANDBOX_KEY

from .test_tickets import png_bytes

A = "/api/v1/admin/service"
M = "/api/v1/mp/service"


def walk(call: Any, ctx: dict[str, Any]) -> None:
    # Conversations and tickets.
    conv = call("POST", f"{M}/conversations", body={"store": "s1", "subject": "牛奶过期了"})
    cid = {"conversation_id": conv["id"]}
    call("GET", f"{M}/conversations")
    call("POST", f"{M}/complaints", body={"store": "s1", "kind": "suggestion",
                                          "category": "environment", "subject": "灯太暗",
                                          "text": "收银区的灯太暗了"})
    att = _upload(call, f"{M}/conversations/{{conversation_id}}/attachments", cid)
    call("POST", f"{M}/conversations/{{conversation_id}}/messages", path_parameters=cid,
         body={"client_msg_id": "w1", "body": "你好", "attachment_id": att["id"]})
    call("GET", f"{M}/conversations/{{conversation_id}}/messages", path_parameters=cid)
    call("GET", f"{M}/attachments/{{attachment_id}}", path_parameters={"attachment_id": att["id"]})
    call("GET", f"{M}/conversations/{{conversation_id}}/chat", path_parameters=cid, expect=400)

    tid = {"ticket_id": conv["id"]}
    call("GET", f"{A}/tickets", query={"store": "s1"})
    call("POST", f"{A}/tickets", body={"store": "s1", "channel": "kiosk_help",
                                       "subject": "k1 扫码失败", "priority": "high"})
    call("GET", f"{A}/tickets/{{ticket_id}}", path_parameters=tid)
    call("PATCH", f"{A}/tickets/{{ticket_id}}", path_parameters=tid,
         body={"labels": ["临期"], "assignee": "boss"})
    call("POST", f"{A}/tickets/{{ticket_id}}/notes", path_parameters=tid, body={"text": "查库存"})
    canned = call("POST", f"{A}/canned-replies", body={"store": "s1", "shortcut": "sorry",
                                                       "title": "致歉", "body": "非常抱歉"})
    call("GET", f"{A}/canned-replies", query={"store": "s1"})
    call("POST", f"{A}/tickets/{{ticket_id}}/messages", path_parameters=tid,
         body={"client_msg_id": "s1", "canned_reply_id": canned["id"]})
    call("GET", f"{A}/tickets/{{ticket_id}}/messages", path_parameters=tid)
    staff_att = _upload(call, f"{A}/tickets/{{ticket_id}}/attachments", tid)
    call("GET", f"{A}/attachments/{{attachment_id}}",
         path_parameters={"attachment_id": staff_att["id"]})
    call("POST", f"{A}/tickets/{{ticket_id}}/status", path_parameters=tid,
         body={"status": "resolved"})
    call("GET", f"{A}/stores/{{store}}/chat", path_parameters={"store": "s1"}, expect=400)
    call("POST", f"{M}/conversations/{{conversation_id}}/csat", path_parameters=cid,
         body={"score": 4, "comment": "很快"})

    # SLA, calendar, reports.
    store = {"store": "s1"}
    call("PUT", f"{A}/stores/{{store}}/sla", path_parameters=store, body={
        "policies": [{"priority": "normal", "first_response_min": 60, "next_response_min": 30,
                      "resolution_min": 480}],
        "hours": [{"weekday": 0, "opens": "09:00", "closes": "21:00"}]})
    call("PUT", f"{A}/stores/{{store}}/calendar/{{day}}",
         path_parameters={"store": "all", "day": "2026-10-01"},
         body={"kind": "holiday", "name": "国庆节"})
    call("GET", f"{A}/stores/{{store}}/sla", path_parameters=store)
    call("GET", f"{A}/tickets/{{ticket_id}}/sla", path_parameters=tid)
    call("POST", f"{A}/sla/sweep")
    month = {"month": "2026-12"}
    call("GET", f"{A}/reports/csat", query=month)
    call("GET", f"{A}/reports/complaints", query={**month, "store": "s1"})

    # Appointments.
    svc = call("POST", f"{A}/stores/{{store}}/appointment-services", path_parameters=store,
               body={"name": "会员咨询", "cancel_before_min": 30})
    sv = {"service_id": svc["id"]}
    svc = call("POST", f"{A}/appointment-services/{{service_id}}/slots", path_parameters=sv,
               body={"slots": [{"starts_at": "2030-01-01T10:00:00+08:00",
                                "ends_at": "2030-01-01T10:30:00+08:00", "capacity": 2}]})
    call("GET", f"{M}/stores/{{store}}/appointment-services", path_parameters=store)
    booking = call("POST", f"{M}/appointments", body={"slot_id": svc["slots"][0]["id"]})
    call("GET", f"{M}/appointments")
    call("GET", f"{A}/appointment-services/{{service_id}}/bookings", path_parameters=sv)
    call("POST", f"{M}/appointments/{{booking_id}}/cancel",
         path_parameters={"booking_id": booking["id"]})

    # Knowledge base.
    art = call("POST", f"{A}/kb/articles", body={"store": "s1", "category": "returns",
                                                 "title": "退货政策", "body_html": "<p>7天内</p>"})
    ar = {"article_id": art["id"]}
    call("PUT", f"{A}/kb/articles/{{article_id}}", path_parameters=ar,
         body={"base_version": 1, "title": "退换货政策", "body_html": "<p>7天内可退换</p>"})
    call("POST", f"{A}/kb/articles/{{article_id}}/publish", path_parameters=ar, body={})
    call("GET", f"{A}/kb/articles", query={"store": "s1"})
    call("GET", f"{A}/kb/articles/{{article_id}}", path_parameters=ar)
    call("PUT", f"{A}/kb/synonyms", body={"groups": [["退款", "退钱"]]})
    call("GET", f"{A}/kb/synonyms")
    call("GET", f"{M}/stores/{{store}}/faq", path_parameters=store, query={"q": "退钱"})
    call("GET", f"{M}/faq/{{article_id}}", path_parameters=ar)
    call("POST", f"{A}/kb/articles/{{article_id}}/unpublish", path_parameters=ar,
         body={"archive": False})

    # After-sales on the kiosk order the walker claimed (sold in March: a long period).
    call("PUT", f"{A}/aftersales-rules", body={"rules": {"*": 365, "fresh": 1}})
    call("GET", f"{A}/aftersales-rules")
    photo = call("POST", f"{M}/aftersales/photos", query={"order_no": "S1-0"},
                 body=png_bytes(), media_type="application/octet-stream")
    ask = {"order_no": "S1-0", "kind": "return", "reason": "quality",
           "lines": [{"line_no": 2, "qty": 1}]}
    first = call("POST", f"{M}/aftersales", body={**ask, "photo_ids": [photo["id"]]})
    call("POST", f"{A}/aftersales/{{aftersales_id}}/reject",
         path_parameters={"aftersales_id": first["id"]}, body={"note": "不符合"})
    second = call("POST", f"{M}/aftersales", body=ask)
    call("POST", f"{M}/aftersales/{{aftersales_id}}/cancel",
         path_parameters={"aftersales_id": second["id"]})
    third = call("POST", f"{M}/aftersales", body=ask)
    call("POST", f"{A}/aftersales/{{aftersales_id}}/approve",
         path_parameters={"aftersales_id": third["id"]}, body={"restock": False,
                                                               "location": "damaged"})
    call("GET", f"{M}/aftersales")
    call("GET", f"{A}/aftersales", query={"store": "s1"})

    # Delivery tracking of the walker's delivery order (shipped SF SF123 by the core walk).
    mp_no = {"order_no": ctx["mp_order"]["order_no"]}
    parcel = {"com": "shunfeng", "num": "SF123"}
    call("POST", "/sandbox/kuaidi100/advance",
         body={**parcel, "context": "顺丰速运 已收取快件", "state": "1", "push": False})
    call("GET", f"{M}/orders/{{order_no}}/tracking", path_parameters=mp_no)
    call("POST", f"{A}/shipments/{{order_no}}/refresh", path_parameters=mp_no)
    call("POST", "/sandbox/kuaidi100/advance",
         body={**parcel, "context": "快件已到达 上海转运中心", "state": "0"})
    param = json.dumps({"status": "polling", "lastResult": {
        "com": "shunfeng", "nu": "SF123", "state": "5", "data": [
            {"time": "2030-01-01 10:00:00", "context": "派件中", "areaName": "上海市"}]}})
    sign = k100.md5_upper(param + k100.salt_for(SANDBOX_KEY, "shunfeng", "SF123"))
    call("POST", NOTIFY_PATH, body={"param": param, "sign": sign},
         media_type="application/x-www-form-urlencoded")
    call("GET", f"{A}/shipments", query={"store": "s1"})
    q = json.dumps({"com": "shunfeng", "num": "SF123"})
    call("POST", "/sandbox/kuaidi100/poll/query.do", media_type="application/x-www-form-urlencoded",
         body={"customer": SANDBOX_CUSTOMER, "param": q,
               "sign": k100.md5_upper(q + SANDBOX_KEY + SANDBOX_CUSTOMER)})
    call("POST", "/sandbox/kuaidi100/poll", media_type="application/x-www-form-urlencoded",
         body={"schema": "json", "param": json.dumps({
             "company": "yuantong", "number": "YT1", "key": SANDBOX_KEY,
             "parameters": {"callbackurl": "http://127.0.0.1:9/none", "salt": "s"}})})

    _community(call)

    # Self-service look-ups on the walker's own mini-program order.
    call("GET", f"{M}/self-service/orders/{{order_no}}",
         path_parameters={"order_no": ctx["mp_order"]["order_no"]})
    call("GET", f"{M}/stores/{{store}}/opening-hours", path_parameters={"store": "s1"})
    call("GET", f"{M}/self-service/wallet")   # the walker joined in the members walk
    ctx["service_conversation"] = conv["id"]


def _community(call: Any) -> None:
    """Community: a second member posts, the walker comments and reports, staff moderate."""
    C = "/community"
    call("PUT", f"{A}{C}/words", body={"words": [{"word": "加微信", "action": "review"},
                                                {"word": "代开发票", "action": "block"}]})
    call("GET", f"{A}{C}/words")
    call.tokens["member2"] = call("POST", "/api/v1/mp/session", body={"code": "walker2"})["token"]
    for token in ("mp", "member2"):
        call("POST", "/api/v1/mp/member/register", body={}, token=token)
    image = call("POST", f"{M}{C}/images", query={"store": "s1"}, body=png_bytes(),
                 media_type="application/octet-stream", token="member2")
    post = call("POST", f"{M}{C}/posts", token="member2",
                body={"store": "s1", "text": "今天的草莓很甜", "image_ids": [image["id"]]})
    pid = {"post_id": post["id"]}
    held = call("POST", f"{M}{C}/posts", body={"store": None, "text": "有事请加 微 信"})
    call("GET", f"{M}{C}/posts", query={"store": "s1", "limit": 10})
    comment = call("POST", f"{M}{C}/posts/{{post_id}}/comments", path_parameters=pid,
                   body={"text": "在哪个货架？"})
    call("GET", f"{M}{C}/posts/{{post_id}}", path_parameters=pid)
    call("POST", f"{M}{C}/reports", body={"kind": "post", "id": post["id"], "reason": "spam"})
    call("GET", f"{A}{C}/queue", query={"status": "held"})
    call("POST", f"{A}{C}/posts/{{post_id}}/moderate", path_parameters={"post_id": held["id"]},
         body={"action": "restore", "note": "误判"})
    call("POST", f"{A}{C}/comments/{{comment_id}}/moderate",
         path_parameters={"comment_id": comment["id"]}, body={"action": "hide"})


def _upload(call: Any, path: str, params: dict[str, Any]) -> dict[str, Any]:
    return call("POST", path, path_parameters=params, body=png_bytes(),
                media_type="application/octet-stream")
