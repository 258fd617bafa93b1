"""The demo's mini-program shopper, over the bridge's /api/v1/mp as the mini-program calls
it: log in (the sandbox's code2session), order for pick-up, pay with WeChat Pay JSAPI (the
payment sandbox plays WeChat's payment sheet), see the order paid; the store's staff see
it as an open ``mp_order`` alert (the console's stock alerts)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from . import kit, scenario, term
from .procs import AdminClient, ControlClient

PRODUCT = "coke-330"
PAID_TIMEOUT_S = 20.0


def _shopper_pays(manifest: Path, params: dict[str, Any], openid: str) -> dict[str, Any]:
    """What WeChat does on wx.requestPayment(params) for the logged-in shopper."""
    base = json.loads(manifest.read_text(encoding="utf-8"))["wechat"]["base_url"]
    req = urllib.request.Request(base + "/__sandbox/jsapi/pay",
                                 data=json.dumps({**params, "openid": openid}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def order_and_pay(bridge_url: str, manifest: Path, admin: AdminClient,
                  control: ControlClient) -> dict[str, Any]:
    """One mini-program order paid through the sandbox and seen by the store: an open alert
    at the bridge (console, admin API) and, through the retained per-store list, on the
    kiosk (the staff TUI's 小程序订单 screen reads the same control API route)."""
    shopper = AdminClient(bridge_url)            # a JSON client; the mp session as bearer
    login = shopper.call("POST", "/api/v1/mp/session", {"code": "demo-mini-program-shopper"})
    shopper.token = login["token"]
    order = shopper.call("POST", "/api/v1/mp/orders", {
        "store": scenario.STORE, "fulfillment": "pickup",
        "lines": [{"product_id": PRODUCT, "qty": 2}], "note": "少冰 less ice"})
    no = order["order_no"]
    term.ok(f"mini-program API: POST /api/v1/mp/orders -> {no} ￥{order['total'] / 100:.2f} "
            f"{order['status']}")
    params = shopper.call("POST", f"/api/v1/mp/orders/{no}/pay")
    term.ok(f"POST /api/v1/mp/orders/{no}/pay -> wx.requestPayment({params['package']}, "
            f"signType {params['signType']})")
    paid = _shopper_pays(manifest, params, login["openid"])
    term.ok(f"WeChat (sandbox) takes the money, notifies the bridge -> HTTP {paid['notify_status']}")
    seen = kit.wait_for(lambda: (o := shopper.call("GET", f"/api/v1/mp/orders/{no}"))
                        and o["status"] == "paid" and o, PAID_TIMEOUT_S, 0.2)
    if not seen:
        raise RuntimeError(f"mini-program order {no} was not paid (see logs/bridge.log)")
    alerts = admin.call("GET", f"/api/v1/admin/alerts?kind=mp_order&store={scenario.STORE}")
    mine = [a for a in alerts["items"] if a["order_no"] == no]
    if not mine:
        raise RuntimeError(f"the store was not told of mini-program order {no}")
    term.ok(f"the store sees it: alert #{mine[0]['id']} 小程序新订单 {no} "
            f"({mine[0]['detail']['fulfillment']}, ￥{mine[0]['detail']['total'] / 100:.2f})")
    at_kiosk = kit.wait_for(lambda: any(
        i.get("order_no") == no
        for i in (control.try_get("/v1/mp-orders") or {}).get("items", [])), PAID_TIMEOUT_S, 0.2)
    if not at_kiosk:
        raise RuntimeError(f"mini-program order {no} did not reach the kiosk's staff list")
    term.ok(f"the kiosk lists it for staff (GET /v1/mp-orders; kiosk-tui screen 8): {no}")
    return {"order_no": no, "status": seen["status"], "alert": mine[0]["id"]}
