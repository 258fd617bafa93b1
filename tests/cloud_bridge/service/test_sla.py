"""SLA clocks in business time across a weekend and a holiday (fixed clocks), breaches
alerted once; CSAT per store and agent; the monthly complaints report."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from cloud_bridge import keys
from cloud_bridge.models import Alert
from cloud_bridge.service import sla
from cloud_bridge.service.models import Conversation

from .conftest import A, M

SLA = {"timezone": "Asia/Shanghai",
       "policies": [{"priority": "normal", "first_response_min": 120, "next_response_min": 30,
                     "resolution_min": 600}],
       "hours": [{"weekday": d, "opens": "09:00", "closes": "18:00"} for d in range(5)]}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def _configure(client, people) -> None:
    r = await client.put(f"{A}/stores/s1/sla", json=SLA, headers=people["clerk1"])
    assert r.status == 200, await r.text()
    # National Day (Thu 1 and Fri 2 October 2026) is chain-wide: head office sets it.
    for day in ("2026-10-01", "2026-10-02"):
        r = await client.put(f"{A}/stores/all/calendar/{day}", headers=people["clerk1"],
                             json={"kind": "holiday", "name": "国庆节"})
        assert r.status == 403
        r = await client.put(f"{A}/stores/all/calendar/{day}", headers=people["boss"],
                             json={"kind": "holiday", "name": "国庆节"})
        assert r.status == 200, await r.text()


async def _ticket_at(client, people, db, created: datetime) -> int:
    r = await client.post(f"{A}/tickets", json={"store": "s1", "channel": "kiosk_help",
                                                 "subject": "x"}, headers=people["clerk1"])
    tid = (await r.json())["id"]
    async with db.session() as s:  # a fixed clock: the ticket was opened at `created`
        await s.execute(update(Conversation).where(Conversation.id == tid).values(
            created_at=created, updated_at=created, waiting_since=created))
    return tid


async def test_clocks_across_a_weekend_and_a_holiday(client, people, db):
    await _configure(client, people)
    # Wed 30 Sep 2026 17:00 in Shanghai: one business hour left that day, then the holiday
    # (Thu, Fri) and the weekend: the 2 h first-response target is due Mon 5 Oct 10:00.
    tid = await _ticket_at(client, people, db, utc(2026, 9, 30, 9, 0))
    r = await client.get(f"{A}/tickets/{tid}/sla", headers=people["clerk1"])
    clocks = {c["clock"]: c for c in (await r.json())["clocks"]}
    assert clocks["first_response"]["due_at"] == "2026-10-05T02:00:00+00:00"
    # 600 min: 60 on Wed, 540 on Mon (09:00-18:00) -> Mon 18:00.
    assert clocks["resolution"]["due_at"] == "2026-10-05T10:00:00+00:00"
    # A make-up working day (调休) on Sat 10 Oct does not matter here, but Sat 3 Oct would.
    r = await client.put(f"{A}/stores/s1/calendar/2026-10-03", headers=people["clerk1"],
                         json={"kind": "workday", "name": "调休", "as_weekday": 0})
    assert r.status == 200
    r = await client.get(f"{A}/tickets/{tid}/sla", headers=people["clerk1"])
    clocks = {c["clock"]: c for c in (await r.json())["clocks"]}
    assert clocks["first_response"]["due_at"] == "2026-10-03T02:00:00+00:00"

    async with db.session() as s:
        cal = await sla.calendar(s, "s1", "Asia/Shanghai")
        assert cal.between(utc(2026, 9, 30, 9), utc(2026, 10, 5, 2)) == 60 + 540 + 60
        # Sat 3 Oct 09:30 local: the first-response clock is still running, nothing breached.
        assert await sla.sweep_breaches(s, "Asia/Shanghai", at=utc(2026, 10, 3, 1, 30)) == []
        # Sat 3 Oct 10:01: breached; the sweep raises it once, with an alert for the store.
        found = await sla.sweep_breaches(s, "Asia/Shanghai", at=utc(2026, 10, 3, 2, 1))
        assert [b.clock for b in found] == ["first_response"]
        assert await sla.sweep_breaches(s, "Asia/Shanghai", at=utc(2026, 10, 3, 2, 30)) == []
        alerts = (await s.scalars(select(Alert).where(Alert.kind == "sla_breach"))).all()
        assert [(a.store, a.detail["conversation_id"]) for a in alerts] == [("s1", tid)]

    # A staff reply stops the first-response clock; the shopper's next message starts the
    # next-response clock.
    r = await client.post(f"{A}/tickets/{tid}/messages", headers=people["clerk1"],
                          json={"client_msg_id": "r1", "body": "您好"})
    r = await client.get(f"{A}/tickets/{tid}/sla", headers=people["clerk1"])
    clocks = {c["clock"]: c for c in (await r.json())["clocks"]}
    assert clocks["first_response"]["stopped_at"] is not None
    assert "next_response" not in clocks
    r = await client.get(f"{A}/tickets/{tid}/sla", headers=people["clerk2"])
    assert r.status == 404


async def test_csat_per_store_and_agent_and_complaints_report(client, people):
    # The report's months are the bridge's (Asia/Shanghai): from 16:00 UTC on a month's
    # last day the UTC month is the one before.
    month = datetime.now(ZoneInfo(client.app[keys.CONFIG_KEY].bridge.timezone)).strftime("%Y-%m")
    for who, score in (("alice", 5), ("bob", 2)):
        r = await client.post(f"{M}/complaints", headers=people[who], json={
            "store": "s1", "kind": "complaint", "category": "service_attitude",
            "subject": "态度差", "text": "收银员不理人"})
        assert r.status == 201, await r.text()
        conv = (await r.json())["id"]
        r = await client.post(f"{M}/conversations/{conv}/csat", headers=people[who],
                              json={"score": score})
        assert r.status == 409  # not resolved yet
        await client.patch(f"{A}/tickets/{conv}", json={"assignee": "clerk1"},
                           headers=people["clerk1"])
        await client.post(f"{A}/tickets/{conv}/status", json={"status": "resolved"},
                          headers=people["clerk1"])
        r = await client.post(f"{M}/conversations/{conv}/csat", headers=people["carol"],
                              json={"score": 1})
        assert r.status == 404  # not carol's
        r = await client.post(f"{M}/conversations/{conv}/csat", headers=people[who],
                              json={"score": score, "comment": "谢谢" if score > 3 else None})
        assert r.status == 201, await r.text()
        r = await client.post(f"{M}/conversations/{conv}/csat", headers=people[who],
                              json={"score": score})
        assert r.status == 409  # once
    await client.post(f"{M}/complaints", headers=people["carol"], json={
        "store": "s1", "kind": "suggestion", "category": "environment", "subject": "灯",
        "text": "灯太暗"})
    r = await client.get(f"{A}/reports/csat?month={month}", headers=people["clerk1"])
    report = await r.json()
    assert report["stores"] == [{"store": "s1", "responses": 2, "average": 3.5,
                                 "satisfied_pct": 50.0,
                                 "distribution": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}}]
    assert [(a["agent"], a["responses"]) for a in report["agents"]] == [("clerk1", 2)]
    r = await client.get(f"{A}/reports/complaints?month={month}", headers=people["clerk1"])
    report = await r.json()
    assert report["totals"] == {"complaint": 2, "suggestion": 1}
    rows = {(x["kind"], x["category"]): x for x in report["rows"]}
    assert rows[("complaint", "service_attitude")]["resolved"] == 2
    r = await client.get(f"{A}/reports/complaints?month={month}&store=s1",
                         headers=people["clerk2"])
    assert r.status == 403
    r = await client.get(f"{A}/reports/csat?month={month}", headers=people["clerk2"])
    assert (await r.json())["stores"] == []
