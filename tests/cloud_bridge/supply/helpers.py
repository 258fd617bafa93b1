"""A small supply world built through the service layer: supplier, product, orders, lots."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from cloud_bridge import auth
from cloud_bridge.supply import purchasing as PO
from cloud_bridge.supply import receiving as R
from cloud_bridge.supply import service, settings, suppliers

TODAY = date(2026, 12, 5)
HQ = auth.Principal(kind="admin", username="hq", role=auth.HEAD_OFFICE)
BUYER = auth.Principal(kind="admin", username="buyer", role=auth.BUYER)


async def supplier(s, sid: str = "sup1", *, lead: int = 2, products=(("milk", 300, 1),),
                   shelf_life: int | None = 10) -> None:
    await suppliers.upsert_supplier(s, supplier_id=sid, name=f"{sid} 乳业", lead_time_days=lead,
                                    payment_terms_days=30, contact=None)
    await suppliers.set_qualification(s, supplier_id=sid, kind="food_licence",
                                      number="JY131", expires_on=TODAY + timedelta(days=365))
    for product_id, cost, pack in products:
        await suppliers.upsert_product(s, product_id=product_id, name_zh=product_id,
                                       shelf_life_days=shelf_life, vat_rate_bp=900)
        await suppliers.set_supplier_product(s, supplier_id=sid, product_id=product_id,
                                             cost_fen=cost, pack_size=pack)


async def sent_po(s, store: str = "s1", lines=(("milk", 20),), sid: str = "sup1") -> int:
    po = await PO.create_po(s, store=store, supplier_id=sid, lines=list(lines), actor="t",
                            today=TODAY)
    await PO.approve(s, po.id, HQ, await settings.load(s), TODAY)
    await PO.send(s, po.id, "t", TODAY)
    return po.id


async def received(s, po_id: int, lots, day: date = TODAY):
    """``lots``: (product, lot_no, days to expiry, qty, defects)."""
    return await R.receive(s, po_id, [R.ReceivedLot(p, lot, day + timedelta(days=d), q, x)
                                      for p, lot, d, q, x in lots],
                           actor="t", settings=await settings.load(s), today=day)


async def store_two_world(db) -> dict[str, str]:
    """Things of store s2 (and a transfer s2 -> s3) that a clerk of s1 must not reach."""
    async with db.session() as s:
        await supplier(s)
        po_id = await sent_po(s, "s2")
        gr = await received(s, po_id, [("milk", "L1", 5, 20, 0)])
        from cloud_bridge.supply import deliveries
        from cloud_bridge.supply.models import ReorderRule

        po2 = await sent_po(s, "s2", lines=(("milk", 5),))
        sh = await deliveries.add_shipment(s, po2, carrier="SF", tracking_no="SF1",
                                           expected_at=datetime(2026, 12, 7, tzinfo=UTC))
        bill = await R.record_bill(s, po_id, bill_no="B1", lines=[("milk", 20, 300)],
                                   vat_fen=540, settings=await settings.load(s))
        tr = await service.send_transfer(s, from_store="s2", to_store="s3",
                                         lines=[("milk", 2, None)], actor="t")
        s.add(ReorderRule(store="s2", product_id="milk", supplier_id="sup1", min_qty=100))
        await s.flush()
        found = await service.scan_stock_alerts(s, "s2", TODAY)
        contract = await suppliers.add_contract(
            s, supplier_id="sup1", number="C-1", terms="月结30天", starts_on=TODAY,
            ends_on=TODAY + timedelta(days=365), renewal_notice_days=30,
            prices=[{"product_id": "milk", "price_fen": 290, "committed_qty": 1000}])
        return {"po": str(po_id), "po2": str(po2), "receipt": str(gr.id), "bill": str(bill.id),
                "shipment": str(sh.id), "transfer": str(tr.id), "alert": str(found[0].id),
                "contract": str(contract.id)}
