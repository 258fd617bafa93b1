"""Expenses and other income with their documents: posted at once, files checked by
content and size, stored once, read back as uploaded."""

from __future__ import annotations

from cloud_bridge import auth
from cloud_bridge.finance import accounts as A
from cloud_bridge.finance.reports import trial_balance

from ..test_api import add_user, client, login

__all__ = ["client"]

F = "/api/v1/admin/finance/expenses"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def test_expense_posts_and_keeps_its_document(client, db, tmp_path, monkeypatch):
    monkeypatch.setenv("BRIDGE_FINANCE_FILES", str(tmp_path / "files"))
    await add_user(db, "fin1", auth.FINANCE, "s1")
    fin = await login(client, "fin1")
    r = await client.post(F, headers=fin, json={
        "store": "s1", "kind": "expense", "code": "6602.02", "amount": 10900, "vat": 900,
        "paid_via": "bank", "date": "2026-11-05", "description": "11月电费 (增值税专用发票)"})
    assert r.status == 201, await r.text()
    exp = await r.json()
    r = await client.post(F, headers=fin, json={
        "store": "s1", "kind": "income", "code": "6051", "amount": 10600, "vat": 600,
        "paid_via": "cash", "date": "2026-11-05", "description": "纸箱回收"})
    assert r.status == 201
    for bad in ({"code": "1001"}, {"vat": 10900}, {"kind": "gift"}, {"date": "2026-11-31"}):
        r = await client.post(F, headers=fin, json={
            "store": "s1", "kind": "expense", "code": "6602.02", "amount": 10900, "vat": 900,
            "paid_via": "bank", "date": "2026-11-05", "description": "x", **bad})
        assert r.status == 400, bad
    async with db.session() as s:
        tb = await trial_balance(s, store="s1")
    assert tb["6602.02"] == 10000 and tb[A.INPUT_VAT] == 900 and tb[A.BANK] == -10900
    assert tb[A.OTHER_INCOME] == -10000 and tb[A.OUTPUT_VAT] == -600 and tb[A.CASH] == 10600
    doc = f"{F}/{exp['id']}/document"
    assert (await client.get(doc, headers=fin)).status == 404  # nothing attached yet
    r = await client.put(doc, headers=fin, data=b"MZ\x90\x00 not a document")
    assert r.status == 415
    r = await client.put(doc, headers=fin, data=b"%PDF-" + b"0" * 1_030_000)
    assert r.status == 413
    r = await client.put(doc, headers=fin, data=PDF)
    assert r.status == 200, await r.text()
    assert (await r.json())["attachment"]["type"] == "application/pdf"
    assert (await client.put(doc, headers=fin, data=PDF)).status == 409  # evidence stays
    r = await client.get(doc, headers=fin)
    assert r.content_type == "application/pdf" and await r.read() == PDF
    assert list((tmp_path / "files").rglob("*.pdf"))
    await add_user(db, "fin2", auth.FINANCE, "s2")
    other = await login(client, "fin2")
    assert (await client.get(doc, headers=other)).status == 403
    r = await client.get(F, params={"store": "s1"}, headers=fin)
    assert [e["kind"] for e in (await r.json())["items"]] == ["income", "expense"]
