"""Appointment reminders as WeChat subscribe messages, through the bridge's WeChat sandbox:
only shoppers who accepted get one, once; a refusal or a missing grant is skipped, never
retried into a second message; the sandbox refuses what WeChat refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloud_bridge.keys import CONFIG_KEY
from cloud_bridge.notify.runtime import runtime, send_once
from cloud_bridge.service.reminders import appointment_reminders

from ..service.conftest import A, M

N = "/api/v1/mp/notify/subscriptions"
SEND = "/sandbox/cgi-bin/message/subscribe/send"


async def _booked_slot(client, people, starts_in: timedelta) -> int:
    r = await client.post(f"{A}/stores/s1/appointment-services", headers=people["clerk1"],
                          json={"name": "生日蛋糕自提", "cancel_before_min": 0})
    svc = (await r.json())["id"]
    start = datetime.now(UTC).replace(microsecond=0) + starts_in
    r = await client.post(f"{A}/appointment-services/{svc}/slots", headers=people["clerk1"],
                          json={"slots": [{"starts_at": start.isoformat(),
                                           "ends_at": (start + timedelta(hours=1)).isoformat(),
                                           "capacity": 5}]})
    return (await r.json())["slots"][0]["id"]


async def test_reminders_reach_only_who_accepted_once(client, people, db):
    app = client.app
    app[CONFIG_KEY].notify.templates = {"appointment_reminder": "TPL-APPT"}
    soon = await _booked_slot(client, people, timedelta(minutes=60))
    later = await _booked_slot(client, people, timedelta(days=2))
    ids = {}
    for name in ("alice", "bob", "carol"):
        r = await client.post(f"{M}/appointments", headers=people[name], json={"slot_id": soon})
        ids[name] = (await r.json())["id"]
    await client.post(f"{M}/appointments", headers=people["alice"], json={"slot_id": later})
    # carol booked, then cancelled: no reminder for her.
    await client.post(f"{M}/appointments/{ids['carol']}/cancel", headers=people["carol"])

    r = await client.post(N, headers=people["alice"],
                          json={"accepted": ["appointment_reminder", "no_such_template"]})
    assert r.status == 200 and (await r.json())["grants"] == {"appointment_reminder": 1}
    r = await client.post(N, headers=people["bob"], json={"accepted": ["appointment_reminder"]})
    runtime(app).sandbox.refused.add(people["bob_openid"])   # bob turned them off in WeChat

    lead = timedelta(hours=2)
    assert await appointment_reminders(db, lead, "Asia/Shanghai") == 2   # alice, bob; soon only
    assert await appointment_reminders(db, lead, "Asia/Shanghai") == 0   # never twice
    counts = await send_once(app)
    assert counts == {"sent": 1, "skipped": 1, "failed": 0, "retry": 0}
    inbox = runtime(app).sandbox.sent
    assert [m["touser"] for m in inbox] == [people["alice_openid"]]
    assert inbox[0]["template_id"] == "TPL-APPT"
    assert inbox[0]["data"]["thing1"]["value"] == "生日蛋糕自提"
    assert (await send_once(app))["sent"] == 0 and len(inbox) == 1
    r = await client.get(N, headers=people["alice"])
    assert (await r.json())["grants"] == {"appointment_reminder": 0}
    r = await client.get(N, headers=people["bob"])
    assert (await r.json())["grants"] == {"appointment_reminder": 0}   # 43101 zeroes it

    r = await client.get("/api/v1/admin/notify/messages", headers=people["boss"])
    statuses = sorted(m["status"] for m in (await r.json())["items"])
    assert statuses == ["sent", "skipped"]
    r = await client.get("/api/v1/admin/notify/messages", headers=people["clerk1"])
    assert r.status == 403
    assert (await client.post(N, headers=people["clerk1"],
                              json={"accepted": ["appointment_reminder"]})).status in (401, 403)
    r = await client.post(N, headers=people["alice"], json={"accepted": []})
    assert r.status == 400


async def test_the_sandbox_refuses_what_wechat_refuses(client):
    body = {"touser": "o-1", "template_id": "TPL", "data": {"thing1": {"value": "好"}}}
    for token, payload, code in (
            ("wrong", body, 40001),
            ("sandbox-access-token", {**body, "template_id": "bad-id"}, 40037),
            ("sandbox-access-token", {**body, "data": {"thing1": {"value": "长" * 21}}}, 47003),
            ("sandbox-access-token", {**body, "touser": ""}, 40003),
            ("sandbox-access-token", body, 0)):
        r = await client.post(SEND, params={"access_token": token}, json=payload)
        assert (await r.json())["errcode"] == code, (token, payload)
