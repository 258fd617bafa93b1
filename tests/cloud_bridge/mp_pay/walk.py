"""The mini-program payment part of the OpenAPI success walk (``test_openapi_fuzz``)."""

from __future__ import annotations

from typing import Any

M = "/api/v1/mp"


def walk(call: Any, ctx: dict[str, Any]) -> None:
    order = call("POST", f"{M}/orders", body={
        "store": "s1", "lines": [{"product_id": ctx["product"], "qty": 1}]})
    no = {"order_no": order["order_no"]}
    params = call("POST", f"{M}/orders/{{order_no}}/pay", path_parameters=no)
    assert params["package"].startswith("prepay_id=") and params["signType"] == "RSA"
    again = call("POST", f"{M}/orders/{{order_no}}/pay", path_parameters=no)
    assert again["package"] == params["package"]
    # The order the core walk paid by hand: nothing to pay.
    call("POST", f"{M}/orders/{{order_no}}/pay",
         path_parameters={"order_no": ctx["mp_order"]["order_no"]}, expect=409)

    # Stored value: top up the walker (a member by now: marketing and members walked
    # first), set a payment password, pay a new order with it.
    me = call("GET", f"{M}/member")
    call("POST", "/api/v1/admin/members/{member_id}/balance/topups",
         path_parameters={"member_id": me["member_id"]},
         body={"amount": 5000, "key": "walk-mp-stored-value"})
    call("PUT", f"{M}/member/pay-password", body={"password": "205813"})
    order = call("POST", f"{M}/orders", body={
        "store": "s1", "lines": [{"product_id": ctx["product"], "qty": 1}]})
    paid = call("POST", f"{M}/orders/{{order_no}}/pay/stored-value",
                path_parameters={"order_no": order["order_no"]}, body={"password": "205813"})
    assert paid["status"] == "paid" and paid["balance"] == 5000 - paid["amount"]

    # Re-authenticated phone change: a fresh wx.login code of the walker's WeChat user (its
    # session is the sandbox's "fuzzer" code's) and a getPhoneNumber code; another user's
    # login code is refused.
    changed = call("PUT", f"{M}/member/phone",
                   body={"login_code": "fuzzer", "phone_code": "walk-new-phone"})
    assert changed["phone_bound"] and changed["phone_masked"].count("*") == 4
    call("PUT", f"{M}/member/phone", body={"login_code": "walker", "phone_code": "x"},
         expect=403)
