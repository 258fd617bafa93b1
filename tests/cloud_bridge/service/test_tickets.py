"""Tickets through the HTTP API: channels, the status machine, VIP-first routing, fields,
internal notes, canned replies, image attachments checked by content."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from PIL import Image

from .conftest import A, M


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


async def _ticket(client, headers, **body) -> dict:
    r = await client.post(f"{A}/tickets", json={"store": "s1", "channel": "kiosk_help",
                                                 "subject": "help", **body}, headers=headers)
    assert r.status == 201, await r.text()
    return await r.json()


async def test_status_machine_and_history(client, people):
    t = await _ticket(client, people["clerk1"])
    tid = t["id"]
    assert t["status"] == "open" and t["channel"] == "kiosk_help"

    async def move(status, expect=200, **extra):
        r = await client.post(f"{A}/tickets/{tid}/status", json={"status": status, **extra},
                              headers=people["clerk1"])
        assert r.status == expect, await r.text()
        return await r.json()

    await move("snoozed", 400)  # snoozing needs a time
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await move("snoozed", snooze_until=later))["snoozed_until"] is not None
    assert (await move("pending"))["snoozed_until"] is None
    assert (await move("resolved"))["resolved_at"] is not None
    await move("pending", 409)  # resolved -> pending is no transition
    await move("open")
    await move("closed")
    for status in ("open", "pending", "resolved"):
        await move(status, 409)  # closed is final
    detail = await (await client.get(f"{A}/tickets/{tid}", headers=people["clerk1"])).json()
    moves = [(e["detail"]["frm"], e["detail"]["to"]) for e in detail["history"]
             if e["action"] == "status"]
    assert moves == [("open", "snoozed"), ("snoozed", "pending"), ("pending", "resolved"),
                     ("resolved", "open"), ("open", "closed")]
    assert all(e["actor"] == "admin:clerk1" for e in detail["history"])


async def test_vip_members_first_then_priority(client, people):
    regular_urgent = await _ticket(client, people["clerk1"], priority="urgent")
    vip_low = await _ticket(client, people["clerk1"], priority="low", tier="vip")
    regular_normal = await _ticket(client, people["clerk1"])
    member_high = await _ticket(client, people["clerk1"], priority="high", tier="member")
    vip_normal = await _ticket(client, people["clerk1"], tier="vip")
    q = await (await client.get(f"{A}/tickets", headers=people["clerk1"])).json()
    assert [t["id"] for t in q["items"]] == [vip_normal["id"], vip_low["id"], member_high["id"],
                                            regular_urgent["id"], regular_normal["id"]]
    # Raising a regular shopper's priority does not put them ahead of a VIP.
    r = await client.patch(f"{A}/tickets/{regular_normal['id']}", headers=people["clerk1"],
                           json={"priority": "urgent", "assignee": "clerk1b",
                                 "labels": ["退款", "急"], "order_no": "S1-1"})
    assert r.status == 200, await r.text()
    t = await r.json()
    assert (t["assignee"], t["labels"], t["order_no"]) == ("clerk1b", ["急", "退款"], "S1-1")
    q = await (await client.get(f"{A}/tickets?assignee=clerk1b", headers=people["clerk1"])).json()
    assert [x["id"] for x in q["items"]] == [regular_normal["id"]]
    q = await (await client.get(f"{A}/tickets?label=急", headers=people["clerk1"])).json()
    assert q["total"] == 1
    # Linking another store's order is refused; the VIP order of the queue is unchanged.
    r = await client.patch(f"{A}/tickets/{regular_normal['id']}", headers=people["clerk1"],
                           json={"order_no": "S2-0"})
    assert r.status == 404
    r = await client.patch(f"{A}/tickets/{regular_normal['id']}", headers=people["clerk1"],
                           json={"priority": None})
    assert r.status == 400


async def test_wechat_complaint_is_one_ticket_per_complaint_id(client, people):
    body = {"channel": "wechat_complaint", "kind": "complaint", "category": "payment",
            "external_ref": "200000020230101000001", "priority": "high"}
    await _ticket(client, people["clerk1"], **body)
    r = await client.post(f"{A}/tickets", json={"store": "s1", "subject": "again", **body},
                          headers=people["clerk1"])
    assert r.status == 409
    r = await client.post(f"{A}/tickets", json={"store": "s1", "subject": "x",
                                                 "channel": "complaint_form",
                                                 "kind": "complaint"}, headers=people["clerk1"])
    assert r.status == 400  # a complaint needs a category


async def test_notes_are_internal_and_canned_replies_are_sent(client, people):
    r = await client.post(f"{M}/conversations", json={"store": "s1", "subject": "牛奶坏了",
                                                       "order_no": "S1-0"},
                          headers=people["alice"])
    assert r.status == 404  # not alice's order (it is a kiosk order nobody claimed)
    r = await client.post(f"{M}/conversations", json={"store": "s1", "subject": "牛奶坏了"},
                          headers=people["alice"])
    conv = (await r.json())["id"]
    r = await client.post(f"{A}/tickets/{conv}/notes", json={"text": "老顾客，先退款"},
                          headers=people["clerk1"])
    assert r.status == 201
    r = await client.post(f"{A}/canned-replies", headers=people["clerk1"],
                          json={"store": "s1", "shortcut": "hello", "title": "问候",
                                "body": "您好，请问有什么可以帮您？"})
    assert r.status == 201
    canned = (await r.json())["id"]
    r = await client.post(f"{A}/canned-replies", headers=people["clerk1"],
                          json={"shortcut": "chain", "title": "x", "body": "y"})
    assert r.status == 403  # chain-wide replies are head office's
    r = await client.post(f"{A}/canned-replies", headers=people["boss"],
                          json={"shortcut": "bye", "title": "再见", "body": "感谢您的耐心"})
    assert r.status == 201
    listed = await (await client.get(f"{A}/canned-replies", headers=people["clerk1"])).json()
    assert [c["shortcut"] for c in listed["items"]] == ["bye", "hello"]
    listed = await (await client.get(f"{A}/canned-replies", headers=people["clerk2"])).json()
    assert [c["shortcut"] for c in listed["items"]] == ["bye"]
    r = await client.post(f"{A}/tickets/{conv}/messages", headers=people["clerk1"],
                          json={"client_msg_id": "k1", "canned_reply_id": canned})
    assert r.status == 201 and (await r.json())["seq"] == 1
    msgs = await (await client.get(f"{M}/conversations/{conv}/messages",
                                   headers=people["alice"])).json()
    assert [m["body"] for m in msgs["items"]] == ["您好，请问有什么可以帮您？"]
    assert "老顾客" not in str(msgs)
    detail = await (await client.get(f"{A}/tickets/{conv}", headers=people["clerk1"])).json()
    assert detail["notes"][0]["text"] == "老顾客，先退款"
    assert detail["first_response_at"] is not None


async def test_images_checked_by_content_and_visible_to_the_right_people(client, people):
    r = await client.post(f"{M}/conversations", json={"store": "s1", "subject": "破损"},
                          headers=people["alice"])
    conv = (await r.json())["id"]
    url = f"{M}/conversations/{conv}/attachments"
    fake = b"<script>alert(1)</script>"
    r = await client.post(url, data=fake, headers={**people["alice"],
                                                   "Content-Type": "image/png"})
    assert r.status == 415
    r = await client.post(url, data=b"\x89PNG\r\n\x1a\n" + b"0" * 1_100_000,
                          headers=people["alice"])
    assert r.status == 413
    r = await client.post(url, data=png_bytes(), headers=people["bob"])
    assert r.status == 404
    r = await client.post(url, data=png_bytes(), headers=people["alice"])
    assert r.status == 201, await r.text()
    att = await r.json()
    assert att["content_type"] == "image/png"
    r = await client.post(f"{M}/conversations/{conv}/messages", headers=people["alice"],
                          json={"client_msg_id": "m1", "attachment_id": att["id"]})
    assert r.status == 201
    r = await client.get(f"{M}/attachments/{att['id']}", headers=people["alice"])
    assert r.status == 200 and await r.read() == png_bytes()
    assert r.content_type == "image/png"
    assert (await client.get(f"{M}/attachments/{att['id']}", headers=people["bob"])).status == 404
    r = await client.get(f"{A}/attachments/{att['id']}", headers=people["clerk1"])
    assert r.status == 200
    r = await client.get(f"{A}/attachments/{att['id']}", headers=people["clerk2"])
    assert r.status == 404
    # Bob cannot send Alice's image in his own conversation.
    r = await client.post(f"{M}/conversations", json={"store": "s1", "subject": "b"},
                          headers=people["bob"])
    r = await client.post(f"{M}/conversations/{(await r.json())['id']}/messages",
                          headers=people["bob"],
                          json={"client_msg_id": "m1", "attachment_id": att["id"]})
    assert r.status == 400
