"""Every customer-service admin route, called by store staff of ANOTHER store: 403/404,
and nothing stored changes. Table-driven and checked against the router."""

from __future__ import annotations

import pytest

from cloud_bridge.app import all_routes

from ..test_api import api_config
from ..test_api_admin_scoping import _snapshot
from .conftest import A
from .seed import seed_store_one

# Routes with no store of their own, and why that is right.
NOT_STORE_SCOPED: dict[tuple[str, str], str] = {
    ("GET", f"{A}/community/words"): "the chain's forbidden words, read by all staff",
    ("GET", f"{A}/kb/synonyms"): "the chain's search synonyms, read by all staff",
    ("GET", f"{A}/aftersales-rules"): "the chain's return periods, read by all staff",
}

# (method, route path, concrete path with store s1's things, body, allowed statuses)
CROSS_STORE = [
    ("GET", f"{A}/tickets", f"{A}/tickets?store=s1", None, {403}),
    ("POST", f"{A}/tickets", f"{A}/tickets", {"store": "s1", "channel": "kiosk_help",
                                               "subject": "x"}, {403}),
    ("GET", f"{A}/tickets/{{ticket_id}}", f"{A}/tickets/{{conv}}", None, {404}),
    ("POST", f"{A}/tickets/{{ticket_id}}/status", f"{A}/tickets/{{conv}}/status",
     {"status": "resolved"}, {404}),
    ("PATCH", f"{A}/tickets/{{ticket_id}}", f"{A}/tickets/{{conv}}", {"priority": "urgent"},
     {404}),
    ("POST", f"{A}/tickets/{{ticket_id}}/notes", f"{A}/tickets/{{conv}}/notes", {"text": "x"},
     {404}),
    ("GET", f"{A}/tickets/{{ticket_id}}/messages", f"{A}/tickets/{{conv}}/messages", None,
     {404}),
    ("POST", f"{A}/tickets/{{ticket_id}}/messages", f"{A}/tickets/{{conv}}/messages",
     {"client_msg_id": "x", "body": "hi"}, {404}),
    ("POST", f"{A}/tickets/{{ticket_id}}/attachments", f"{A}/tickets/{{conv}}/attachments",
     b"\x89PNG\r\n\x1a\n0000", {404}),
    ("GET", f"{A}/attachments/{{attachment_id}}", f"{A}/attachments/{{att}}", None, {404}),
    ("GET", f"{A}/canned-replies", f"{A}/canned-replies?store=s1", None, {403}),
    ("POST", f"{A}/canned-replies", f"{A}/canned-replies",
     {"store": "s1", "shortcut": "x", "title": "x", "body": "x"}, {403}),
    ("GET", f"{A}/stores/{{store}}/chat", f"{A}/stores/s1/chat", None, {403}),
    ("GET", f"{A}/stores/{{store}}/sla", f"{A}/stores/s1/sla", None, {403}),
    ("GET", f"{A}/stores/{{store}}/sla", f"{A}/stores/all/sla", None, {403}),
    ("PUT", f"{A}/stores/{{store}}/sla", f"{A}/stores/s1/sla",
     {"policies": [], "hours": []}, {403}),
    ("PUT", f"{A}/stores/{{store}}/calendar/{{day}}", f"{A}/stores/all/calendar/2026-10-01",
     {"kind": "holiday", "name": "x"}, {403}),
    ("GET", f"{A}/tickets/{{ticket_id}}/sla", f"{A}/tickets/{{conv}}/sla", None, {404}),
    ("POST", f"{A}/sla/sweep", f"{A}/sla/sweep", None, {403}),
    ("GET", f"{A}/reports/csat", f"{A}/reports/csat?store=s1&month=2026-10", None, {403}),
    ("GET", f"{A}/reports/complaints", f"{A}/reports/complaints?store=s1&month=2026-10", None,
     {403}),
    ("POST", f"{A}/stores/{{store}}/appointment-services", f"{A}/stores/s1/appointment-services",
     {"name": "x"}, {403}),
    ("POST", f"{A}/appointment-services/{{service_id}}/slots",
     f"{A}/appointment-services/{{svc}}/slots",
     {"slots": [{"starts_at": "2030-01-01T10:00:00+08:00", "ends_at": "2030-01-01T11:00:00+08:00",
                 "capacity": 1}]}, {404}),
    ("GET", f"{A}/appointment-services/{{service_id}}/bookings",
     f"{A}/appointment-services/{{svc}}/bookings", None, {404}),
    ("GET", f"{A}/community/queue", f"{A}/community/queue?store=s1", None, {403}),
    ("POST", f"{A}/community/posts/{{post_id}}/moderate", f"{A}/community/posts/{{post}}/moderate",
     {"action": "delete"}, {404}),
    ("POST", f"{A}/community/comments/{{comment_id}}/moderate",
     f"{A}/community/comments/{{comment}}/moderate", {"action": "delete"}, {404}),
    ("PUT", f"{A}/community/words", f"{A}/community/words", {"words": []}, {403}),
    ("POST", f"{A}/kb/articles", f"{A}/kb/articles",
     {"store": "s1", "category": "other", "title": "x", "body_html": "<p>x</p>"}, {403}),
    ("GET", f"{A}/kb/articles", f"{A}/kb/articles?store=s1", None, {403}),
    ("GET", f"{A}/kb/articles/{{article_id}}", f"{A}/kb/articles/{{article}}", None, {404}),
    ("PUT", f"{A}/kb/articles/{{article_id}}", f"{A}/kb/articles/{{article}}",
     {"base_version": 1, "title": "x", "body_html": "<p>x</p>"}, {404}),
    ("POST", f"{A}/kb/articles/{{article_id}}/publish", f"{A}/kb/articles/{{article}}/publish",
     {}, {404}),
    ("POST", f"{A}/kb/articles/{{article_id}}/unpublish",
     f"{A}/kb/articles/{{article}}/unpublish", {"archive": True}, {404}),
    ("PUT", f"{A}/kb/synonyms", f"{A}/kb/synonyms", {"groups": [["a", "b"]]}, {403}),
    ("GET", f"{A}/aftersales", f"{A}/aftersales?store=s1", None, {403}),
    ("POST", f"{A}/aftersales/{{aftersales_id}}/approve",
     f"{A}/aftersales/{{aftersale}}/approve", {"restock": True}, {404}),
    ("POST", f"{A}/aftersales/{{aftersales_id}}/reject", f"{A}/aftersales/{{aftersale}}/reject",
     {"note": "x"}, {404}),
    ("PUT", f"{A}/aftersales-rules", f"{A}/aftersales-rules", {"rules": {"*": 1}}, {403}),
    ("GET", f"{A}/shipments", f"{A}/shipments?store=s1", None, {403}),
    ("POST", f"{A}/shipments/{{order_no}}/refresh", f"{A}/shipments/{{shipped}}/refresh", None,
     {404}),
]


def test_every_service_admin_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith(A + "/")}
    covered = {(m, p) for m, p, *_ in CROSS_STORE} | set(NOT_STORE_SCOPED)
    assert routes == covered


@pytest.mark.parametrize("method,route,path,body,allowed", CROSS_STORE,
                         ids=[f"{m} {p}" for m, p, *_ in CROSS_STORE])
async def test_staff_of_another_store_are_refused(client, db, people, method, route, path, body,
                                                  allowed):
    ids = await seed_store_one(client, people, db)
    before = await _snapshot(db)
    kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
    r = await client.request(method, path.format(**ids), headers=people["clerk2"], **kwargs)
    assert r.status in allowed, (r.status, await r.text())
    assert r.content_type == "application/problem+json"
    assert await _snapshot(db) == before, "a refused request changed stored data"
