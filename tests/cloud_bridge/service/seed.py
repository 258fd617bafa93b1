"""Things of store s1 and of shopper alice that other callers must not reach."""

from __future__ import annotations

from sqlalchemy import update

from cloud_bridge.models import Order

from .conftest import M
from .test_tickets import png_bytes


async def seed_store_one(client, people, db) -> dict[str, str]:
    h = people["alice"]
    r = await client.post(f"{M}/conversations", json={"store": "s1", "subject": "help"},
                          headers=h)
    assert r.status == 201, await r.text()
    conv = (await r.json())["id"]
    r = await client.post(f"{M}/conversations/{conv}/attachments", data=png_bytes(), headers=h)
    assert r.status == 201, await r.text()
    att = (await r.json())["id"]
    r = await client.post(f"{M}/conversations/{conv}/messages", headers=h,
                          json={"client_msg_id": "a1", "body": "图片", "attachment_id": att})
    assert r.status == 201, await r.text()
    r = await client.post("/api/v1/admin/service/stores/s1/appointment-services",
                          json={"name": "咨询"}, headers=people["clerk1"])
    svc = (await r.json())["id"]
    r = await client.post(f"/api/v1/admin/service/appointment-services/{svc}/slots",
                          headers=people["clerk1"],
                          json={"slots": [{"starts_at": "2030-01-01T10:00:00+08:00",
                                           "ends_at": "2030-01-01T11:00:00+08:00",
                                           "capacity": 3}]})
    slot = (await r.json())["slots"][0]["id"]
    r = await client.post(f"{M}/appointments", json={"slot_id": slot}, headers=h)
    assert r.status == 201, await r.text()
    booking = str((await r.json())["id"])
    await give_order(db, "S1-0", people["alice_openid"])
    return {"order_no": "S1-0", "conv": str(conv), "att": att, "svc": str(svc),
            "booking": booking, **await _community(client, people),
            **await _kb_aftersales_shipment(client, people, db)}


async def _kb_aftersales_shipment(client, people, db) -> dict[str, str]:
    """An s1 FAQ article, alice's after-sales request on S1-0, alice's shipped S1-1."""
    from cloud_bridge.service import delivery

    r = await client.post("/api/v1/admin/service/kb/articles", headers=people["clerk1"], json={
        "store": "s1", "category": "returns", "title": "退货", "body_html": "<p>7天</p>"})
    assert r.status == 201, await r.text()
    article = (await r.json())["id"]
    r = await client.put("/api/v1/admin/service/aftersales-rules", headers=people["boss"],
                         json={"rules": {"*": 365}})
    assert r.status == 200, await r.text()
    r = await client.post(f"{M}/aftersales", headers=people["alice"], json={
        "order_no": "S1-0", "kind": "return", "reason": "quality",
        "lines": [{"line_no": 1, "qty": 1}]})
    assert r.status == 201, await r.text()
    aftersale = (await r.json())["id"]
    async with db.session() as s:
        await s.execute(update(Order).where(Order.order_no == "S1-1").values(
            openid=people["alice_openid"], fulfillment="delivery", status="shipped",
            carrier="SF", tracking_no="SF555"))
        await delivery.new_shipments(s)
    return {"article": str(article), "aftersale": str(aftersale), "shipped": "S1-1"}


async def _community(client, people) -> dict[str, str]:
    """Alice (a member) posts in s1 and comments on it; s1's clerk hides the post."""
    h = people["alice"]
    r = await client.post("/api/v1/mp/member/register", json={}, headers=h)
    assert r.status == 200, await r.text()
    r = await client.post(f"{M}/community/posts", json={"store": "s1", "text": "好"}, headers=h)
    assert r.status == 201, await r.text()
    post = (await r.json())["id"]
    r = await client.post(f"{M}/community/posts/{post}/comments", json={"text": "嗯"}, headers=h)
    assert r.status == 201, await r.text()
    comment = (await r.json())["id"]
    r = await client.post(f"/api/v1/admin/service/community/posts/{post}/moderate",
                          json={"action": "hide"}, headers=people["clerk1"])
    assert r.status == 200, await r.text()
    return {"post": str(post), "comment": str(comment)}


async def give_order(db, order_no: str, openid: str) -> None:
    """The kiosk order becomes the shopper's (as claiming it from the receipt does)."""
    async with db.session() as s:
        await s.execute(update(Order).where(Order.order_no == order_no).values(openid=openid))
