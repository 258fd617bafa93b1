"""The security routes in the OpenAPI success walk of ``test_openapi_fuzz``: each answers a
realistic request with a 2xx whose body matches its schema."""

from __future__ import annotations

A = "/api/v1/admin"


def walk(call, ctx) -> None:
    user = {"username": "walk-clerk"}
    call("POST", f"{A}/users", body={"username": "walk-clerk", "secret": "secret-walk-clerk",
                                     "role": "store_staff", "store": "s1"})
    call("POST", f"{A}/users", body={"username": "walk-clerk", "secret": "secret-walk-clerk",
                                     "role": "store_staff", "store": "s1"}, expect=409)
    call("POST", f"{A}/users/{{username}}/disable", path_parameters=user)
    call("POST", f"{A}/users/{{username}}/enable", path_parameters=user)
    call("GET", f"{A}/security/audit", query={"limit": 10})
    call("POST", f"{A}/security/purge")
    spare = call("POST", f"{A}/session", body={"username": "boss", "secret": "secret-boss"})
    call.tokens["spare"] = spare["token"]
    call("DELETE", f"{A}/session", token="spare")
    call("GET", f"{A}/me", token="spare", expect=401)
