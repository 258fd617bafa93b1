"""Every customer-service mini-program route that names a shopper's things, called by
ANOTHER shopper: 404 (nothing leaks) and nothing stored changes."""

from __future__ import annotations

import pytest

from cloud_bridge.app import all_routes

from ..test_api import api_config
from ..test_api_admin_scoping import _snapshot
from .conftest import M
from .seed import seed_store_one

# Routes that name nothing of another shopper (they act on the caller's own things).
NOT_USER_SCOPED = {
    ("POST", f"{M}/conversations"), ("GET", f"{M}/conversations"), ("POST", f"{M}/complaints"),
    ("GET", f"{M}/stores/{{store}}/appointment-services"), ("POST", f"{M}/appointments"),
    ("GET", f"{M}/appointments"), ("GET", f"{M}/stores/{{store}}/opening-hours"),
    # The community: my own uploads and posts, and the public list (others' hidden posts
    # are left out of it: test_community). A report names its item in the body; reporting
    # an item the caller may not read is 404 there too.
    ("POST", f"{M}/community/images"), ("POST", f"{M}/community/posts"),
    ("GET", f"{M}/community/posts"), ("POST", f"{M}/community/reports"),
    # Published FAQ articles are for every shopper; my wallet and my requests are mine.
    ("GET", f"{M}/stores/{{store}}/faq"), ("GET", f"{M}/faq/{{article_id}}"),
    ("GET", f"{M}/self-service/wallet"), ("GET", f"{M}/aftersales"),
}

# (method, route path, concrete path with alice's things, body)
OTHER_USER = [
    ("GET", f"{M}/conversations/{{conversation_id}}/messages",
     f"{M}/conversations/{{conv}}/messages", None),
    ("POST", f"{M}/conversations/{{conversation_id}}/messages",
     f"{M}/conversations/{{conv}}/messages", {"client_msg_id": "b1", "body": "hi"}),
    ("POST", f"{M}/conversations/{{conversation_id}}/attachments",
     f"{M}/conversations/{{conv}}/attachments", b"\x89PNG\r\n\x1a\n0000"),
    ("GET", f"{M}/attachments/{{attachment_id}}", f"{M}/attachments/{{att}}", None),
    ("GET", f"{M}/conversations/{{conversation_id}}/chat", f"{M}/conversations/{{conv}}/chat",
     None),
    ("POST", f"{M}/conversations/{{conversation_id}}/csat", f"{M}/conversations/{{conv}}/csat",
     {"score": 5}),
    ("POST", f"{M}/appointments/{{booking_id}}/cancel", f"{M}/appointments/{{booking}}/cancel",
     None),
    ("GET", f"{M}/self-service/orders/{{order_no}}", f"{M}/self-service/orders/{{order_no}}",
     None),
    ("POST", f"{M}/aftersales", f"{M}/aftersales", {
        "order_no": "S1-0", "kind": "return", "reason": "quality",
        "lines": [{"line_no": 1, "qty": 1}]}),
    ("POST", f"{M}/aftersales/photos", f"{M}/aftersales/photos?order_no={{order_no}}",
     b"\x89PNG\r\n\x1a\n0000"),
    ("POST", f"{M}/aftersales/{{aftersales_id}}/cancel", f"{M}/aftersales/{{aftersale}}/cancel",
     None),
    ("GET", f"{M}/orders/{{order_no}}/tracking", f"{M}/orders/{{shipped}}/tracking", None),
    # Alice's post, hidden by staff: only she sees it.
    ("GET", f"{M}/community/posts/{{post_id}}", f"{M}/community/posts/{{post}}", None),
    ("POST", f"{M}/community/posts/{{post_id}}/comments",
     f"{M}/community/posts/{{post}}/comments", {"text": "hi"}),
]


def test_every_service_mp_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith(M + "/")}
    assert routes == {(m, p) for m, p, *_ in OTHER_USER} | NOT_USER_SCOPED


@pytest.mark.parametrize("method,route,path,body", OTHER_USER,
                         ids=[f"{m} {p}" for m, p, *_ in OTHER_USER])
async def test_another_shopper_is_refused(client, db, people, method, route, path, body):
    ids = await seed_store_one(client, people, db)
    before = await _snapshot(db)
    kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
    r = await client.request(method, path.format(**ids), headers=people["bob"], **kwargs)
    assert r.status == 404, (r.status, await r.text())
    assert r.content_type == "application/problem+json"
    assert await _snapshot(db) == before, "another shopper's request changed stored data"
