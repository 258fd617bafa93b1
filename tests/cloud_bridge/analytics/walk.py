"""The analytics part of the OpenAPI success walk (``test_openapi_fuzz``): each operation
called once with a realistic request, its reply validated against the document."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from cloud_bridge.db import Database

A = "/api/v1/admin/analytics"
Q = {"start": "2026-01-01", "end": "2026-12-31", "store": "s1"}


def _members_who_gave_their_gender(db_url: str) -> None:
    """Enough members who gave their gender for the demographics to show a group."""
    from cloud_bridge.members.models import MemberRecord

    async def add() -> None:
        async with Database(db_url) as db, db.session() as s:
            s.add_all(MemberRecord(id=f"WALKDEMO{i:02d}", appid="walk", openid=f"walk-{i}",
                                   gender="female", region="上海") for i in range(12))

    asyncio.run(add())


def walk(call: Any, ctx: dict[str, Any]) -> None:
    now = datetime.now(UTC).isoformat()
    call("POST", "/api/v1/mp/analytics/events", body={"v": 1, "events": [
        {"event_id": "walk-1", "type": "search", "at": now, "keyword": "牛奶",
         "result_count": 0, "session_id": "ws1", "channel": "search"},
        {"event_id": "walk-2", "type": "entry", "at": now, "session_id": "ws1",
         "channel": "ad", "campaign": "spring"}]})
    run = call("POST", f"{A}/runs", body={"as_of": datetime.now(UTC).date().isoformat()})
    deadline = time.monotonic() + 60
    while run["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        run = call("GET", f"{A}/runs/{{run_id}}", path_parameters={"run_id": run["id"]})
    assert run["status"] == "done", run
    call("GET", f"{A}/runs")
    for metric in ("sales_by_product", "payment_mix", "conversion_funnel", "kiosk_sessions"):
        p = {"metric": metric}
        call("GET", f"{A}/metrics/{{metric}}", path_parameters=p, query=Q)
        call("GET", f"{A}/metrics/{{metric}}/csv", path_parameters=p, query=Q)
        call("GET", f"{A}/metrics/{{metric}}/xlsx", path_parameters=p, query=Q)
        call("GET", f"{A}/metrics/{{metric}}/chart", path_parameters=p, query=Q)
        call("GET", f"{A}/metrics/{{metric}}/chart.png", path_parameters=p, query=Q)
    call("POST", f"{A}/campaign-effect", body={"start": "2026-01-01", "end": "2026-12-31",
                                               "stores": ["s1"]})
    _members_who_gave_their_gender(ctx["db_url"])
    call("GET", f"{A}/demographics", query={"by": "gender"})
    call("GET", f"{A}/demographics/chart.png", query={"by": "region"})
    call("GET", f"{A}/members", query={"store": "s1"})
    call("GET", f"{A}/segments")
    call("GET", f"{A}/win-back")
    call("GET", f"{A}/basket-rules")
    call("GET", f"{A}/keywords")
    call("GET", f"{A}/forecasts", query={"store": "s1"})
    call("POST", f"{A}/competitors/{{competitor}}/prices",
         path_parameters={"competitor": "rival"}, media_type="text/plain",
         body="barcode,price,observed_on\n6901234567892,3.50,2026-12-01\n")
    call("GET", f"{A}/competitors/price-index")
