"""Fleet: every kiosk live (Server-Sent Events), one kiosk's detail, signed commands, shadow.

Live updates read the fleet rows from the database every :data:`LIVE_POLL_S`: the
database is what every bridge worker writes telemetry into, so a browser connected to
any worker sees every kiosk (DESIGN.md: no in-process fan-out alone).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloud_bridge import commands, fleet
from cloud_bridge.errors import Conflict, InvalidRequest, NotFound, Unavailable
from cloud_bridge.ingest import Ingest
from common.jsontypes import JsonMapping, JsonObject
from contract.wire.commands import COMMAND_NAMES
from contract.wire.shadow import ShadowDesired
from contract.wire.topics import KioskTopics

from .. import charts, fmt
from ..call import PageCall
from .dashboard import visible_stores

# Telemetry arrives every few seconds; a 2 s read keeps the page within one period.
LIVE_POLL_S = 2.0
# A stream ends after this long (the browser reconnects; the session is checked again).
LIVE_MAX_S = 300.0
# Comment line that keeps proxies from closing an idle stream.
KEEPALIVE_S = 15.0


def _time(value: object) -> datetime | str | None:
    """A time of a fleet row (ISO text), as :func:`fmt.when` takes it."""
    return value if isinstance(value, datetime | str) else None


def fleet_cells(call: PageCall, k: JsonMapping) -> dict[str, str]:
    """The fleet table's text per kiosk, the same for the page and its live updates."""
    tz = call.tz(str(k["store"]))
    oldest = k["oldest_unsent_s"]
    return {
        "state": call.t(f"st.{k['state']}") if f"st.{k['state']}" in call.registry.labels
        else str(k["state"]),
        "since": fmt.when(_time(k["state_since"]), tz, seconds=True),
        "queue": "—" if k["queue_depth"] is None else str(k["queue_depth"]),
        "oldest": fmt.duration(oldest if isinstance(oldest, int | float) else None, call.lang),
        "printer": str(k["printer"] or "—"),
        "camera": str(k["camera"] or "—"),
        "version": str(k["version"] or "—"),
        "catalog": str(k["catalog_version"] or "—"),
        "last_seen": fmt.when(_time(k["last_seen"]), tz, seconds=True),
    }


async def _kiosks(call: PageCall, store: str | None) -> list[JsonObject]:
    async with call.db.session() as s:
        return await fleet.fleet_view(s, store)


HISTORY_HOURS = 24


async def fleet_history(call: PageCall, store: str | None) -> JsonObject:
    """Per hour of the last day: fewest kiosks online and the oldest unsent event."""
    from datetime import UTC, timedelta

    from sqlalchemy import select

    from ..models import FleetSample

    since = datetime.now(UTC) - timedelta(hours=HISTORY_HOURS)
    q = select(FleetSample).where(FleetSample.at >= since).order_by(FleetSample.at)
    if store is not None:
        q = q.where(FleetSample.store == store)
    async with call.db.session() as s:
        samples = (await s.scalars(q)).all()
    per_time: dict[datetime, list[int]] = {}
    for row in samples:  # all stores: the chain's totals at each sampling time
        agg = per_time.setdefault(row.at, [0, 0, -1])
        agg[0] += row.online
        agg[1] += row.total
        agg[2] = max(agg[2], int(row.oldest_unsent_s or 0))
    tz = call.tz(store)
    hours: dict[str, list[int]] = {}
    for at, (online, total, oldest) in per_time.items():
        label = fmt.local(at, tz).strftime("%H")
        slot = hours.setdefault(label, [online, total, oldest])
        slot[0], slot[2] = min(slot[0], online), max(slot[2], oldest)
    online_points = [(h, v[0]) for h, v in hours.items()]
    age_points = [(h, max(v[2], 0)) for h, v in hours.items()]
    if not online_points:
        return {"online_chart": None, "age_chart": None}
    return {
        "online_chart": charts.bar_chart(online_points, call.t("fleet.online_history"), str),
        "age_chart": charts.bar_chart(age_points, call.t("fleet.age_history"),
                                      lambda v: fmt.duration(v, call.lang)),
    }


async def fleet_page(call: PageCall) -> JsonObject:
    store = call.store_filter()
    kiosks = await _kiosks(call, store)
    rows = [{"k": k, "key": f"{k['store']}/{k['kiosk']}", "cells": fleet_cells(call, k)}
            for k in kiosks]
    live = call.url("console.fleet_events", {"store": store})
    return {"rows": rows, "store": store, "stores": await visible_stores(call),
            "live_url": live, "online": sum(1 for k in kiosks if k["state"] == "online"),
            **await fleet_history(call, store)}


async def fleet_events(call: PageCall) -> web.StreamResponse:
    """``text/event-stream``: a ``fleet`` event whenever a visible kiosk's row changes."""
    store = call.store_filter()
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    await resp.prepare(call.request)
    loop = asyncio.get_running_loop()
    started = last_write = loop.time()
    last = None
    while loop.time() - started < LIVE_MAX_S:
        if not await _still_logged_in(call):
            break
        kiosks = await _kiosks(call, store)
        payload = json.dumps([{"key": f"{k['store']}/{k['kiosk']}", "state": k["state"],
                               "cells": fleet_cells(call, k)} for k in kiosks],
                             ensure_ascii=False)
        digest = hashlib.sha256(payload.encode()).hexdigest()
        if digest != last:
            await resp.write(f"event: fleet\ndata: {payload}\n\n".encode())
            last, last_write = digest, loop.time()
        elif loop.time() - last_write > KEEPALIVE_S:
            await resp.write(b": keep-alive\n\n")
            last_write = loop.time()
        await asyncio.sleep(LIVE_POLL_S)
    await resp.write(b"event: end\ndata: {}\n\n")
    return resp


async def _still_logged_in(call: PageCall) -> bool:
    from ..models import ConsoleSession

    async with call.db.session() as s:
        return await s.get(ConsoleSession, call.active.row.id_hash) is not None


async def kiosk_view(call: PageCall) -> JsonObject:
    return await kiosk_page(call)


async def kiosk_page(call: PageCall, *, sent: JsonObject | None = None,
                     error: str | None = None, status: int = 200) -> JsonObject:
    store, kiosk = call.path["store"], call.path["kiosk"]
    call.principal.check_store(store)
    async with call.db.session() as s:
        detail = await fleet.kiosk_detail(s, store, kiosk)
    if detail is None:
        raise NotFound(f"kiosk {store}/{kiosk} not known")
    return {"k": detail, "cells": fleet_cells(call, detail), "commands": sorted(COMMAND_NAMES),
            "tz": call.tz(store), "sent": sent, "error": error, "status": status,
            "template": "kiosk.html"}


def _command_input(call: PageCall) -> tuple[str, JsonObject]:
    name = call.arg("name")
    if name not in COMMAND_NAMES:
        raise InvalidRequest("unknown command")
    text = call.arg("args", "{}", max_len=2000) or "{}"
    try:
        args: object = json.loads(text)
    except ValueError as err:
        raise InvalidRequest(call.t("kiosk.bad_args")) from err
    if not isinstance(args, dict) or len(args) > 32:
        raise InvalidRequest(call.t("kiosk.bad_args"))
    return name, args


async def command_confirm(call: PageCall) -> JsonObject:
    """Step 1: show the command to be signed and sent; nothing is sent yet."""
    store, kiosk = call.path["store"], call.path["kiosk"]
    call.principal.check_store(store)
    try:
        name, args = _command_input(call)
    except InvalidRequest as err:
        return await kiosk_page(call, error=err.detail, status=400)
    args_json = json.dumps(args, ensure_ascii=False)
    return confirm(call.t("kiosk.send_question", kiosk=f"{store}/{kiosk}", name=name),
                   [(call.t("kiosk.command"), name), (call.t("kiosk.args"), args_json)],
                   call.url("console.command_send", store=store, kiosk=kiosk),
                   {"name": name, "args": args_json}, call.t("kiosk.send_confirm"),
                   call.url("console.kiosk_view", store=store, kiosk=kiosk))


def confirm(question: str, facts: list[tuple[str, str]], action: str, fields: dict[str, str],
            button: str, cancel: str) -> JsonObject:
    """The context of ``confirm.html``: a question, what it is about, and the final form."""
    return {"question": question, "facts": facts, "action": action, "fields": fields,
            "button": button, "cancel": cancel, "template": "confirm.html"}


async def shadow_confirm(call: PageCall) -> JsonObject:
    store, kiosk = call.path["store"], call.path["kiosk"]
    call.principal.check_store(store)
    text = call.arg("config", "{}", max_len=10000) or "{}"
    try:
        config: object = json.loads(text)
        if not isinstance(config, dict) or len(config) > 100:
            raise ValueError
    except ValueError:
        return await kiosk_page(call, error=call.t("kiosk.bad_args"), status=400)
    pretty = json.dumps(config, ensure_ascii=False, sort_keys=True)
    return confirm(call.t("kiosk.shadow_question", kiosk=f"{store}/{kiosk}"),
                   [(call.t("kiosk.desired"), pretty)],
                   call.url("console.shadow_publish", store=store, kiosk=kiosk),
                   {"config": pretty}, call.t("kiosk.shadow_confirm"),
                   call.url("console.kiosk_view", store=store, kiosk=kiosk))


def _signing_key(call: PageCall) -> Ed25519PrivateKey:
    key = commands.load_signing_key(call.config)
    if key is None:
        raise Unavailable("no command signing key provisioned "
                          f"(credential {call.config.commands.signing_key_credential})")
    return key


def _publisher(call: PageCall) -> Ingest:
    ingest = call.ingest()
    if ingest is None or not ingest.connected.is_set():
        raise Unavailable("the bridge is not connected to the MQTT broker")
    return ingest


async def command_send(call: PageCall) -> JsonObject:
    """Step 2: sign with head office's key, publish on the kiosk's cmd topic, audit."""
    store, kiosk = call.path["store"], call.path["kiosk"]
    call.principal.check_store(store)
    name, args = _command_input(call)
    target = f"{store}/{kiosk}"
    try:
        cmd = await commands.publish_command(_publisher(call), _signing_key(call), store, kiosk,
                                             name, args, ttl_s=call.config.commands.ttl_s)
    except Unavailable as err:
        await call.audit("kiosk.command", target, "failed", store=store,
                         detail={"name": name, "args": args, "error": err.detail})
        return await kiosk_page(call, error=err.detail, status=503)
    await call.audit("kiosk.command", target, "ok", store=store,
                     detail={"name": name, "args": args, "cmd_id": cmd.cmd_id})
    return await kiosk_page(call, sent={"cmd_id": cmd.cmd_id, "name": name,
                                        "expires_at": cmd.expires_at})


async def shadow_publish(call: PageCall) -> JsonObject:
    """Publish a new desired configuration (retained), version above the last one."""
    store, kiosk = call.path["store"], call.path["kiosk"]
    call.principal.check_store(store)
    text = call.arg("config", "{}", max_len=10000) or "{}"
    try:
        config: object = json.loads(text)
        if not isinstance(config, dict) or len(config) > 100:
            raise ValueError
    except ValueError:
        return await kiosk_page(call, error=call.t("kiosk.bad_args"), status=400)
    target = f"{store}/{kiosk}"
    try:
        ingest = _publisher(call)
        async with call.db.session() as s:
            current = await fleet.kiosk_detail(s, store, kiosk)
            if current is None:
                raise NotFound(f"kiosk {target} not known")
            last = current.get("desired_version")
            version = (last if isinstance(last, int) else 0) + 1
            await fleet.record_desired(s, store, kiosk, version, config)
        desired = ShadowDesired(version=version, config=config)
        await ingest.publish(KioskTopics(store, kiosk).shadow_desired, desired.encode(), qos=1,
                             retain=True)
    except (Unavailable, Conflict) as err:
        await call.audit("kiosk.shadow", target, "failed", store=store,
                         detail={"error": err.detail})
        return await kiosk_page(call, error=err.detail, status=err.status)
    await call.audit("kiosk.shadow", target, "ok", store=store,
                     detail={"version": version, "config": config})
    return await kiosk_page(call, sent={"shadow_version": version})
