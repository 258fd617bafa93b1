"""The members part of the OpenAPI success walk (``test_openapi_fuzz``)."""

from __future__ import annotations

from typing import Any

A = "/api/v1/admin/members"
M = "/api/v1/mp/member"


def walk(call: Any, ctx: dict[str, Any]) -> None:
    call("POST", "/sandbox/wxa/business/getuserphonenumber",
         query={"access_token": "sandbox-access-token"}, body={"code": "walker-phone"})
    call("POST", f"{M}/register", body={"phone_code": "walker-phone", "home_store": "s1"})
    call("GET", M)
    call("PUT", f"{M}/profile", body={"birthday": "1992-05-20", "region": "上海",
                                      "gender": "female"})
    call("GET", f"{M}/code")
    call("GET", f"{M}/points", query={"limit": 10})
    program = call("GET", f"{A}/program")
    call("PUT", f"{A}/program", body=program)
    call("GET", A, query={"store": "s1"})
    call("POST", f"{A}/sync")
