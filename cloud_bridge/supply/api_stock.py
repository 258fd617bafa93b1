"""Supply API, stock side: lots, movements, write-offs, counts, transfers, alerts, rules."""

from __future__ import annotations

from sqlalchemy import or_, select

from cloud_bridge.errors import NotFound
from cloud_bridge.openapi import Call, Route
from common.jsontypes import JsonObject

from . import alerts as A
from . import responses as RS
from . import schemas as S
from . import settings as settings_store
from . import stock
from .api_support import BUYER_ROLES, HQ, STOCK_ROLES, db, page, parse_day, today, visible_store
from .models import Lot, Movement, ReorderRule, SupplyAlert, SupplyProduct, Transfer
from .suppliers import upsert_product

P = "/api/v1/admin/supply"
INT = {"type": "integer", "minimum": 1, "maximum": 10**15}


def lot_json(lot: Lot) -> JsonObject:
    return {"store": lot.store, "location": lot.location, "product_id": lot.product_id,
            "lot_no": lot.lot_no,
            "expiry_date": lot.expiry_date.isoformat() if lot.expiry_date else None,
            "qty": lot.qty, "unit_cost_fen": lot.unit_cost_fen}


def movement_json(m: Movement) -> JsonObject:
    return {"id": m.id, "store": m.store, "location": m.location, "product_id": m.product_id,
            "lot_no": m.lot_no, "qty": m.qty, "kind": m.kind, "doc_type": m.doc_type,
            "doc_id": m.doc_id, "shortfall": m.shortfall, "actor": m.actor,
            "at": m.at.isoformat()}


def transfer_json(t: Transfer) -> JsonObject:
    return {"id": t.id, "from_store": t.from_store, "to_store": t.to_store, "status": t.status,
            "lines": t.lines, "created_by": t.created_by, "created_at": t.created_at.isoformat(),
            "received_at": t.received_at.isoformat() if t.received_at else None}


def alert_json(a: SupplyAlert) -> JsonObject:
    return {"id": a.id, "kind": a.kind, "store": a.store, "subject": a.subject,
            "product_id": a.product_id, "supplier_id": a.supplier_id, "state": a.state,
            "detail": a.detail or {}, "created_at": a.created_at.isoformat(),
            "updated_at": a.updated_at.isoformat(), "updated_by": a.updated_by}


def rule_json(r: ReorderRule) -> JsonObject:
    return {"store": r.store, "product_id": r.product_id, "supplier_id": r.supplier_id,
            "min_qty": r.min_qty, "max_qty": r.max_qty, "multiple": r.multiple,
            "lead_time_days": r.lead_time_days, "service_z": r.service_z,
            "ordering_cost_fen": r.ordering_cost_fen,
            "holding_rate_per_year": r.holding_rate_per_year,
            "overstock_days": r.overstock_days}


def product_json(p: SupplyProduct) -> JsonObject:
    return {"product_id": p.product_id, "name_zh": p.name_zh, "name_en": p.name_en,
            "category": p.category, "shelf_life_days": p.shelf_life_days,
            "near_expiry_days": p.near_expiry_days, "vat_rate_bp": p.vat_rate_bp}


async def list_lots(call: Call) -> JsonObject:
    """Stock by lot (first-expiring first), on the shelf of each visible store."""
    q = call.query_as(S.SupplyStoreQuery)
    store = call.principal.store_scope(q.store)
    async with db(call).session() as s:
        rows = await stock.lots(s, store, q.product_id, limit=page(call, q.limit),
                                offset=q.offset)
    return {"items": [lot_json(r) for r in rows]}


async def list_movements(call: Call) -> JsonObject:
    """Every stock movement with its source document, newest first."""
    q = call.query_as(S.SupplyStoreQuery)
    store = call.principal.store_scope(q.store)
    async with db(call).session() as s:
        rows = await stock.movements(s, store, q.product_id, limit=page(call, q.limit),
                                     offset=q.offset)
    return {"items": [movement_json(m) for m in rows]}


async def write_off(call: Call) -> JsonObject:
    """Write off damaged or expired units of one lot (报损)."""
    store, b = call.path["store"], call.body_as(S.SupplyWriteOffBody)
    call.principal.check_store(store)
    async with db(call).session() as s:
        taken = await stock.write_off(s, store=store, product_id=b.product_id, lot_no=b.lot_no,
                                      qty=b.qty, reason=b.reason, actor=call.principal.actor,
                                      location=b.location)
    return {"store": store, "product_id": b.product_id,
            "taken": [{"lot_no": t.lot_no, "qty": t.qty,
                       "expiry_date": t.expiry_date.isoformat() if t.expiry_date else None}
                      for t in taken]}


async def post_count(call: Call) -> JsonObject:
    """Post a stock count (盘点): each lot's variance against the book becomes a movement."""
    store = call.path["store"]
    call.principal.check_store(store)
    lines = [(ln.product_id, ln.lot_no, parse_day(ln.expiry_date) if ln.expiry_date else None,
              ln.counted) for ln in call.body_as(S.SupplyCountBody).lines]
    async with db(call).session() as s:
        c = await stock.post_count(s, store=store, lines=lines, actor=call.principal.actor)
        return {"id": c.id, "store": c.store, "status": c.status, "lines": c.lines,
                "created_by": c.created_by, "created_at": c.created_at.isoformat()}


async def send_transfer(call: Call) -> JsonObject:
    """Send goods to another store; they sit in transit until the other store receives."""
    b = call.body_as(S.SupplyTransferBody)
    call.principal.check_store(b.from_store)
    async with db(call).session() as s:
        tr = await stock.send_transfer(
            s, from_store=b.from_store, to_store=b.to_store, actor=call.principal.actor,
            lines=[(ln.product_id, ln.qty, ln.lot_no) for ln in b.lines])
        return transfer_json(tr)


async def receive_transfer(call: Call) -> JsonObject:
    """The receiving store books a transfer in (once)."""
    tid = int(call.path["transfer_id"])
    async with db(call).session() as s:
        tr = await s.get(Transfer, tid)
        if tr is None:
            raise NotFound(f"transfer {tid} not found")
        if not call.principal.chain_wide and call.principal.store not in (tr.from_store,
                                                                          tr.to_store):
            raise NotFound(f"transfer {tid} not found")
        call.principal.check_store(tr.to_store)
        tr = await stock.receive_transfer(s, tid, call.principal.actor)
        return transfer_json(tr)


async def list_transfers(call: Call) -> JsonObject:
    """Transfers from or to a store, newest first."""
    q = call.query_as(S.SupplyStoreQuery)
    store = call.principal.store_scope(q.store)
    stmt = select(Transfer).order_by(Transfer.id.desc()).limit(page(call, q.limit)).offset(
        q.offset)
    if store is not None:
        stmt = stmt.where(or_(Transfer.from_store == store, Transfer.to_store == store))
    async with db(call).session() as s:
        return {"items": [transfer_json(t) for t in (await s.scalars(stmt)).all()]}


async def list_alerts(call: Call) -> JsonObject:
    """Supply alerts (stock and supplier risks) with their state."""
    q = call.query_as(S.SupplyAlertQuery)
    store = call.principal.store_scope(q.store)
    async with db(call).session() as s:
        rows = await A.list_alerts(s, store=store, chain_wide=call.principal.chain_wide,
                                   state=q.state, kind=q.kind, limit=page(call, q.limit),
                                   offset=q.offset)
    return {"items": [alert_json(a) for a in rows]}


async def set_alert_state(call: Call) -> JsonObject:
    """Acknowledge or resolve an alert (open -> acknowledged -> resolved)."""
    aid = int(call.path["alert_id"])
    async with db(call).session() as s:
        alert = await s.get(SupplyAlert, aid)
        if alert is None or (alert.store is None and not call.principal.chain_wide):
            raise NotFound(f"alert {aid} not found")
        if alert.store is not None:
            visible_store(call, alert.store)
        alert = await A.set_alert_state(s, aid, call.body_as(S.SupplyAlertStateBody).state, call.principal.actor)
        return alert_json(alert)


async def scan_alerts(call: Call) -> JsonObject:
    """Check a store's stock now: raise, update and resolve its stock alerts."""
    store = call.path["store"]
    call.principal.check_store(store)
    async with db(call).session() as s:
        cfg = await settings_store.load(s)
        found = await A.scan_stock_alerts(s, store, today(cfg, call.body_as(S.SupplyDayBody).date),
                                          tz=cfg.timezone,
                                          near_expiry_days=cfg.near_expiry_days)
        return {"items": [alert_json(a) for a in found]}


async def get_settings(call: Call) -> JsonObject:
    """Supply settings: approval limit, match tolerances, risk thresholds, AQL."""
    async with db(call).session() as s:
        return (await settings_store.load(s)).model_dump(mode="json")


async def put_settings(call: Call) -> JsonObject:
    """Change the supply settings (head office)."""
    new = settings_store.SupplySettings.model_validate(call.body_as(S.SupplySettingsBody).model_dump())
    async with db(call).session() as s:
        return (await settings_store.save(s, new, call.principal.actor)).model_dump(mode="json")


async def put_product(call: Call) -> JsonObject:
    """A product's supply data: shelf life, near-expiry warning days, VAT rate."""
    b = call.body_as(S.SupplyProductBody)
    async with db(call).session() as s:
        p = await upsert_product(s, product_id=call.path["product_id"], name_zh=b.name_zh,
                                 name_en=b.name_en, category=b.category,
                                 shelf_life_days=b.shelf_life_days,
                                 near_expiry_days=b.near_expiry_days, vat_rate_bp=b.vat_rate_bp)
        return product_json(p)


async def put_rule(call: Call) -> JsonObject:
    """How a store replenishes a product (min/max, multiple, lead time, service level)."""
    store, product_id = call.path["store"], call.path["product_id"]
    call.principal.check_store(store)
    async with db(call).session() as s:
        rule = await s.get(ReorderRule, (store, product_id), with_for_update=True)
        if rule is None:
            rule = ReorderRule(store=store, product_id=product_id)
            s.add(rule)
        for key, value in call.body_as(S.SupplyRuleBody).model_dump().items():
            setattr(rule, key, value)
        await s.flush()
        return rule_json(rule)


async def list_rules(call: Call) -> JsonObject:
    q = call.query_as(S.SupplyStoreQuery)
    store = call.principal.store_scope(q.store)
    stmt = select(ReorderRule).order_by(ReorderRule.store, ReorderRule.product_id).limit(
        page(call, q.limit)).offset(q.offset)
    if store is not None:
        stmt = stmt.where(ReorderRule.store == store)
    if q.product_id is not None:
        stmt = stmt.where(ReorderRule.product_id == q.product_id)
    async with db(call).session() as s:
        return {"items": [rule_json(r) for r in (await s.scalars(stmt)).all()]}


T = "supply"
ROUTES = [
    Route("GET", f"{P}/lots", list_lots, "Stock by lot", T, auth="admin", query=S.SupplyStoreQuery,
          response=RS.SupplyLotList, roles=STOCK_ROLES),
    Route("GET", f"{P}/movements", list_movements, "Stock movements", T, auth="admin",
          query=S.SupplyStoreQuery, response=RS.SupplyMovementList, roles=STOCK_ROLES),
    Route("POST", f"{P}/stores/{{store}}/write-offs", write_off, "Write off units of a lot", T,
          auth="admin", body=S.SupplyWriteOffBody, status=201, response=RS.SupplyWriteOffOut,
          roles=STOCK_ROLES),
    Route("POST", f"{P}/stores/{{store}}/counts", post_count, "Post a stock count", T,
          auth="admin", body=S.SupplyCountBody, status=201, response=RS.SupplyCountOut, roles=STOCK_ROLES),
    Route("POST", f"{P}/transfers", send_transfer, "Send a transfer to another store", T,
          auth="admin", body=S.SupplyTransferBody, status=201, response=RS.SupplyTransferOut,
          roles=STOCK_ROLES),
    Route("POST", f"{P}/transfers/{{transfer_id}}/receive", receive_transfer,
          "Receive a transfer", T, auth="admin", response=RS.SupplyTransferOut, roles=STOCK_ROLES,
          path_params={"transfer_id": INT}),
    Route("GET", f"{P}/transfers", list_transfers, "Transfers", T, auth="admin",
          query=S.SupplyStoreQuery, response=RS.SupplyTransferList, roles=STOCK_ROLES),
    Route("GET", f"{P}/alerts", list_alerts, "Supply alerts", T, auth="admin",
          query=S.SupplyAlertQuery, response=RS.SupplyAlertList, roles=STOCK_ROLES),
    Route("POST", f"{P}/alerts/{{alert_id}}/state", set_alert_state,
          "Acknowledge or resolve a supply alert", T, auth="admin", body=S.SupplyAlertStateBody,
          response=RS.SupplyAlertOut, roles=STOCK_ROLES, path_params={"alert_id": INT}),
    Route("POST", f"{P}/stores/{{store}}/alerts/scan", scan_alerts, "Scan a store's stock", T,
          auth="admin", body=S.SupplyDayBody, response=RS.SupplyAlertList, roles=STOCK_ROLES),
    Route("GET", f"{P}/settings", get_settings, "Supply settings", T, auth="admin",
          response=RS.SupplySettingsOut, roles=BUYER_ROLES),
    Route("PUT", f"{P}/settings", put_settings, "Change supply settings", T, auth="admin",
          body=S.SupplySettingsBody, response=RS.SupplySettingsOut, roles=HQ),
    Route("PUT", f"{P}/products/{{product_id}}", put_product, "Set a product's supply data", T,
          auth="admin", body=S.SupplyProductBody, response=RS.SupplyProductOut, roles=BUYER_ROLES),
    Route("PUT", f"{P}/rules/{{store}}/{{product_id}}", put_rule, "Set a reorder rule", T,
          auth="admin", body=S.SupplyRuleBody, response=RS.SupplyRuleOut, roles=BUYER_ROLES),
    Route("GET", f"{P}/rules", list_rules, "Reorder rules", T, auth="admin",
          query=S.SupplyStoreQuery, response=RS.SupplyRuleList, roles=STOCK_ROLES),
]
