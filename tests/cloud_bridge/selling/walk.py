"""The selling routes in the OpenAPI success walk of ``test_openapi_fuzz``: a kiosk's open
staff call and a parked cart of store s1 (seeded as the ingest would store them), found
and settled once at a staffed till."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

A = "/api/v1/admin"
PARK = {"store": "s1", "park_no": "P20261205-k1-001"}


def _seed(db_url: str) -> None:
    from cloud_bridge.db import Database
    from cloud_bridge.models import StoredEvent
    from cloud_bridge.selling.staff_calls import apply_staff_call
    from contract.wire.staff import StaffCall

    now = datetime.now(UTC)
    payload = {"event_id": "walk-park-1", "type": "order.parked", "store": "s1", "kiosk": "k1",
               "data": {"park_no": PARK["park_no"], "total": 650, "currency": "CNY",
                        "cart": {"lines": [{"product_id": "p1", "qty": 1}]}}}

    async def run() -> None:
        async with Database(db_url) as db, db.session() as s:
            s.add(StoredEvent(event_id="walk-park-1", store="s1", kiosk="k1", seq=10**9,
                              type="order.parked", ts=now, payload=json.dumps(payload)))
            await apply_staff_call(s, "s1", "k1", StaffCall(active=True, call_id="walk1",
                                                            called_at=now, ts=now))

    asyncio.run(run())


def walk(call: Any, ctx: dict[str, Any]) -> None:
    _seed(ctx["db_url"])
    call("GET", f"{A}/staff-calls", query={"store": "s1"})
    call("GET", f"{A}/stores/{{store}}/parked/{{park_no}}", path_parameters=PARK)
    call("POST", f"{A}/stores/{{store}}/parked/{{park_no}}/settle", path_parameters=PARK,
         body={"method": "cash", "amount": 651}, expect=400)
    call("POST", f"{A}/stores/{{store}}/parked/{{park_no}}/settle", path_parameters=PARK,
         body={"method": "cash", "amount": 650, "reference": "TILL-1"})
    call("POST", f"{A}/stores/{{store}}/parked/{{park_no}}/settle", path_parameters=PARK,
         body={"method": "cash", "amount": 650}, expect=409)
