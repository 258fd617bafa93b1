"""``cloud-bridge supply import-products`` and ``supply propose`` as staff run them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from cloud_bridge.db import Database
from cloud_bridge.supply import suppliers
from cloud_bridge.supply.models import Movement, ReorderRule, SupplierProduct, SupplyProduct

from ..bridge_process import ROOT, write_config
from .helpers import TODAY

CSV = """product_id,name_zh,name_en,category,shelf_life_days,vat_rate_bp,supplier_id,cost_fen,pack_size
milk-1l,鲜牛奶 1L,Fresh milk 1L,dairy,7,900,dairy,780,6
rice-5kg,东北大米 5kg,Rice 5kg,grain,,900,,,
"""


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "cloud_bridge.cli", "supply", *args], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_import_products_then_propose(tmp_path, db_url):
    cfg = write_config(tmp_path / "bridge.toml", db_url=db_url, worker="cli", mqtt_port=None)

    async def seed() -> None:
        async with Database(db_url) as db, db.session() as s:
            await suppliers.upsert_supplier(s, supplier_id="dairy", name="光明", lead_time_days=1,
                                            payment_terms_days=30, contact=None)
            s.add(ReorderRule(store="s1", product_id="milk-1l", supplier_id="dairy"))
            for back in range(1, 15):
                s.add(Movement(store="s1", location="shelf", product_id="milk-1l", qty=-10,
                               lot_no=None, kind="sale", doc_type="order", doc_id=f"o{back}",
                               shortfall=0,
                               at=datetime.combine(TODAY - timedelta(days=back), time(4), UTC)))

    asyncio.run(seed())
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV + "tea,绿茶,,,,abc,,,\n", encoding="utf-8")
    r = cli("import-products", "--config", str(cfg), "--file", str(bad))
    assert r.returncode == 2 and "line 4: vat_rate_bp" in r.stderr
    good = tmp_path / "products.csv"
    good.write_text(CSV, encoding="utf-8")
    r = cli("import-products", "--config", str(cfg), "--file", str(good))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"products": 2, "supplier_prices": 1}

    async def stored():
        async with Database(db_url) as db, db.session() as s:
            names = sorted(p.name_zh for p in (await s.scalars(select(SupplyProduct))).all())
            offer = await s.get(SupplierProduct, ("dairy", "milk-1l"))
            return names, (offer.cost_fen, offer.pack_size)

    assert asyncio.run(stored()) == (["东北大米 5kg", "鲜牛奶 1L"], (780, 6))
    r = cli("propose", "--config", str(cfg), "--date", TODAY.isoformat())
    assert r.returncode == 0, r.stderr
    line = json.loads(r.stdout)
    assert line["store"] == "s1" and line["created"] and len(line["purchase_orders"]) == 1
    again = json.loads(cli("propose", "--config", str(cfg), "--date",
                           TODAY.isoformat()).stdout)
    assert again["purchase_orders"] == line["purchase_orders"] and not again["created"]
    r = cli("propose", "--config", str(cfg), "--date", "2026-13-01")
    assert r.returncode != 0 and "not a day" in r.stderr
