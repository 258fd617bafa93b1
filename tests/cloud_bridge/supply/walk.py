"""The supply routes in the OpenAPI success walk of ``test_openapi_fuzz``: each answers a
realistic request with a 2xx whose body matches its schema."""

from __future__ import annotations

A = "/api/v1/admin/supply"
SETTINGS = {"approval_limit_fen": 10_000_000, "near_expiry_days": 3,
            "qualification_warning_days": 30, "price_tolerance_bp": 200, "qty_tolerance": 0,
            "amount_tolerance_fen": 100, "otif_threshold": 0.9, "otif_min_receipts": 1,
            "price_rise_threshold_bp": 500, "aql": "1.0", "inspection_level": "II",
            "timezone": "Asia/Shanghai"}


def walk(call, ctx) -> None:
    sup, prod = {"supplier_id": "walk-sup"}, {"product_id": "walk-milk"}
    call("PUT", f"{A}/settings", body=SETTINGS)
    call("GET", f"{A}/settings")
    call("PUT", f"{A}/products/{{product_id}}", path_parameters=prod,
         body={"name_zh": "鲜牛奶", "name_en": "Fresh milk", "shelf_life_days": 7,
               "vat_rate_bp": 900})
    call("PUT", f"{A}/suppliers/{{supplier_id}}", path_parameters=sup,
         body={"name": "光明乳业", "lead_time_days": 2, "contact": "021-0000"})
    call("PUT", f"{A}/suppliers/{{supplier_id}}/qualifications/{{kind}}",
         path_parameters={**sup, "kind": "food_licence"},
         body={"number": "JY13101", "expires_on": "2099-01-01"})
    call("PUT", f"{A}/suppliers/{{supplier_id}}/products/{{product_id}}",
         path_parameters={**sup, **prod}, body={"cost_fen": 300, "pack_size": 6})
    contract = call("POST", f"{A}/contracts", body={
        "supplier_id": "walk-sup", "number": "WALK-C1", "terms": "月结30天",
        "starts_on": "2020-01-01", "ends_on": "2099-01-01",
        "prices": [{"product_id": "walk-milk", "price_fen": 290, "committed_qty": 600}]})
    call("GET", f"{A}/suppliers")
    call("PUT", f"{A}/rules/{{store}}/{{product_id}}", path_parameters={"store": "s1", **prod},
         body={"supplier_id": "walk-sup", "min_qty": 12, "max_qty": 120, "multiple": 6})
    call("GET", f"{A}/rules", query={"store": "s1"})
    po = call("POST", f"{A}/purchase-orders",
              body={"store": "s1", "supplier_id": "walk-sup",
                    "lines": [{"product_id": "walk-milk", "qty": 60}]})
    pid = {"po_id": po["id"]}
    call("POST", f"{A}/purchase-orders/{{po_id}}/actions", path_parameters=pid,
         body={"action": "rfq"})
    call("POST", f"{A}/purchase-orders/{{po_id}}/quote", path_parameters=pid,
         body={"prices": [{"product_id": "walk-milk", "unit_cost_fen": 280}]})
    call("POST", f"{A}/purchase-orders/{{po_id}}/actions", path_parameters=pid,
         body={"action": "approve"})
    call("POST", f"{A}/purchase-orders/{{po_id}}/actions", path_parameters=pid,
         body={"action": "send"})
    ship = call("POST", f"{A}/purchase-orders/{{po_id}}/shipments", path_parameters=pid,
                body={"carrier": "顺丰", "tracking_no": "SF100",
                      "expected_at": "2099-01-01T09:00:00+08:00"})
    call("PUT", f"{A}/shipments/{{shipment_id}}", path_parameters={"shipment_id": ship["id"]},
         body={"status": "in_transit"})
    call("GET", f"{A}/arrivals", query={"store": "s1"})
    gr = call("POST", f"{A}/purchase-orders/{{po_id}}/receipts", path_parameters=pid,
              body={"lots": [{"product_id": "walk-milk", "lot_no": "W1", "qty": 60,
                              "expiry_date": "2099-01-01", "defects": 0}]})
    call("GET", f"{A}/lots", query={"store": "s1"})
    call("GET", f"{A}/movements", query={"store": "s1"})
    call("POST", f"{A}/stores/{{store}}/write-offs", path_parameters={"store": "s1"},
         body={"product_id": "walk-milk", "lot_no": "W1", "qty": 1, "reason": "破损"})
    call("POST", f"{A}/stores/{{store}}/counts", path_parameters={"store": "s1"},
         body={"lines": [{"product_id": "walk-milk", "lot_no": "W1", "counted": 58}]})
    tr = call("POST", f"{A}/transfers", body={
        "from_store": "s1", "to_store": "s2", "lines": [{"product_id": "walk-milk", "qty": 2}]})
    call("GET", f"{A}/transfers")
    call("POST", f"{A}/transfers/{{transfer_id}}/receive",
         path_parameters={"transfer_id": tr["id"]})
    call("POST", f"{A}/receipts/{{receipt_id}}/returns",
         path_parameters={"receipt_id": gr["id"]},
         body={"reason": "包装破损", "lines": [{"product_id": "walk-milk", "lot_no": "W1",
                                               "qty": 6}]})
    bill = call("POST", f"{A}/purchase-orders/{{po_id}}/bills", path_parameters=pid,
                body={"bill_no": "WB1", "vat_fen": 1361,
                      "lines": [{"product_id": "walk-milk", "qty": 54, "unit_cost_fen": 280}]})
    assert bill["status"] == "matched", bill
    call("POST", f"{A}/bills/{{bill_id}}/pay", path_parameters={"bill_id": bill["id"]})
    call("GET", f"{A}/purchase-orders", query={"store": "s1"})
    call("GET", f"{A}/purchase-orders/{{po_id}}", path_parameters=pid)
    call("GET", f"{A}/contracts/{{contract_id}}",
         path_parameters={"contract_id": contract["contract_id"]})
    call("GET", f"{A}/suppliers/{{supplier_id}}", path_parameters=sup)
    call("POST", f"{A}/stores/{{store}}/alerts/scan", path_parameters={"store": "s1"}, body={})
    call("POST", f"{A}/risks/scan", body={"date": "2098-12-20"})
    alerts = call("GET", f"{A}/alerts")
    call("POST", f"{A}/alerts/{{alert_id}}/state",
         path_parameters={"alert_id": alerts["items"][0]["id"]}, body={"state": "acknowledged"})
    call("POST", f"{A}/stores/{{store}}/proposals", path_parameters={"store": "s1"}, body={})
