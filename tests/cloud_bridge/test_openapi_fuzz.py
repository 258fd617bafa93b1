"""Schemathesis against a running ``cloud-bridge serve``: no input makes the server fail (5xx),
and every reply is what the OpenAPI document says (status, media type, body schema)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cloud_bridge import auth
from cloud_bridge.ingest import store_events

from .bridge_helpers import order_event, receipt_token
from .bridge_process import BridgeProcess, write_config
from .domain_tests import domain_walks
from .mp_pay.sandbox_proc import payment_sandbox_env

__all__ = ["payment_sandbox_env"]  # fixture: WeChat Pay for the mini-program pay route


# Generated requests per operation: ~300 operations x 12 is about 3,700 requests, one and
# a half to two minutes on PostgreSQL on this machine. The second database of a run gets
# half as many (see ``budget``).
MAX_EXAMPLES = 12
# A reply passes when it is no 5xx, its status is documented for the operation, and its
# media type and body match what the document says for that status.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
PROBLEM = "application/problem+json"
PRICE_BOOK = Path(__file__).resolve().parents[2] / "config" / "pricebook.example.json"


@pytest.fixture
def served(tmp_path, db_url, broker, payment_sandbox_env):
    """A bridge server process on the test database, with an admin and a mini-program token."""
    import asyncio

    from cloud_bridge.db import Database

    async def seed() -> None:
        async with Database(db_url) as db:
            await store_events(db, [("s1", "k1", order_event("s1", "k1", 0, "S1-0").encode())],
                               worker="t", tz="Asia/Shanghai")
            async with db.session() as s:
                await auth.create_admin_user(s, "boss", "secret-boss", auth.HEAD_OFFICE)

    asyncio.run(seed())
    cfg = write_config(tmp_path / "bridge.toml", db_url=db_url, worker="fuzz",
                       mqtt_port=broker.port)
    # A command signing key, so that the command route signs and publishes for real.
    key = {"BRIDGE_COMMAND_SIGNING_KEY": os.urandom(32).hex(),
           # finance: bank account numbers are encrypted under this key
           "BRIDGE_FINANCE_BANK_KEY": os.urandom(32).hex(),
           # members: member codes are signed with this key
           "BRIDGE_MEMBER_SIGNING_KEY": os.urandom(32).hex(),
           # mp_pay: WeChat Pay (JSAPI) from a payment sandbox process
           **payment_sandbox_env}
    proc = BridgeProcess(cfg, tmp_path / "bridge.log", env=key).start()
    _wait_mqtt(proc.url)
    try:
        base = proc.url
        r = requests.post(base + "/api/v1/admin/session",
                          json={"username": "boss", "secret": "secret-boss"}, timeout=10)
        admin = r.json()["token"]
        r = requests.post(base + "/api/v1/mp/session", json={"code": "fuzzer"}, timeout=10)
        mp = r.json()["token"]
        yield base, admin, mp, proc
    finally:
        proc.stop()


def budget(full: int, db_url: str, pg_session_url: str | None) -> int:
    """How many generated inputs a fuzz run makes on ``db_url``: ``full`` on PostgreSQL
    (strict about types, lengths and integer ranges, where SQLite stores what it is given,
    so inputs that only a database refuses fail there), half of it on SQLite when
    PostgreSQL is fuzzed in the same run; the handlers and their validation are the same
    code on both. Without PostgreSQL, SQLite gets the full budget."""
    if db_url.startswith("sqlite") and pg_session_url is not None:
        return max(full // 2, 1)
    return full


def _wait_mqtt(base: str) -> None:
    deadline = time.monotonic() + 10
    while requests.get(base + "/api/v1/health", timeout=5).json()["mqtt"] is not True:
        assert time.monotonic() < deadline, "bridge did not connect to the broker"
        time.sleep(0.05)


def load_schema(base: str):
    """The served document, requests going to the served bridge."""
    schema = schemathesis.openapi.from_url(base + "/api/v1/openapi.json")
    schema.config.update(base_url=base)
    return schema


def content_type(response) -> str:
    """A schemathesis reply's media type (its headers: lower-case names, lists of values)."""
    return (response.headers.get("content-type") or [""])[0]


def _problem(operation, case, response, err: Exception) -> str:
    return (f"{operation.label}: {response.status_code} {response.text[:200]} for "
            f"{case.as_curl_command()}\n  {str(err).strip()[:600]}")


# Every operation of the document in one run: its time grows with the API (about 300
# operations now), so it gets its own bound instead of the suite's per-test default.
@pytest.mark.timeout(900)
def test_no_server_errors_and_replies_match_the_document(served, db_url, pg_session_url):
    base, admin, mp, proc = served
    examples = budget(MAX_EXAMPLES, db_url, pg_session_url)
    schema = load_schema(base)
    failures: list[str] = []
    calls = 0
    session = requests.Session()

    def fuzz(operation, token: str) -> None:
        nonlocal calls
        headers = {"Authorization": f"Bearer {token}"}

        @settings(max_examples=examples, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate])
        @given(case=operation.as_strategy())
        def run(case) -> None:
            nonlocal calls
            response = case.call(session=session, headers=headers, timeout=10)
            calls += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as err:
                failures.append(_problem(operation, case, response, err))
            ctype = content_type(response)
            if response.status_code >= 400 and not ctype.startswith(PROBLEM):
                failures.append(f"{operation.label}: {response.status_code} as {ctype!r}, "
                                f"not a problem document, for {case.as_curl_command()}")

        run()

    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) == ("DELETE", "/api/v1/admin/session"):
            continue  # logging out would end the token the rest use; the walk logs out its own
        fuzz(operation, admin if operation.path.startswith("/api/v1/admin") else mp)
    assert calls > 100
    assert proc.proc.poll() is None, "the server died"
    assert not failures, "\n".join(failures[:10])


class _Walk:
    """Calls operations of the document with given inputs and validates every reply."""

    def __init__(self, base: str, admin: str, mp: str) -> None:
        self.schema = load_schema(base)
        self.tokens = {"admin": admin, "mp": mp}
        self.session = requests.Session()
        self.succeeded: set[str] = set()
        self.failures: list[str] = []

    def __call__(self, method: str, path: str, *, expect: int | None = None,
                 token: str | None = None, path_parameters: dict | None = None,
                 query: dict | None = None, body: object = None,
                 media_type: str = "application/json") -> object:
        operation = self.schema[path][method]
        payload = {} if body is None else {"body": body, "media_type": media_type}
        case = operation.Case(path_parameters=path_parameters, query=query, **payload)
        kind = token or ("admin" if path.startswith("/api/v1/admin") else "mp")
        headers = {"Authorization": f"Bearer {self.tokens[kind]}"}
        response = case.call(session=self.session, headers=headers, timeout=30)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as err:
            self.failures.append(_problem(operation, case, response, err))
        wanted = expect or int(next(c for c in operation.definition.raw["responses"]
                                    if c.startswith("2")))
        assert response.status_code == wanted, (
            f"{method} {path}: {response.status_code} {response.text[:300]}")
        if 200 <= response.status_code < 300:
            self.succeeded.add(operation.label)
        ctype = content_type(response)
        if "json" in ctype:
            return response.json()
        # text (CSV, HTML, "fail") as text, documents (XLSX, PDF, PNG) as their bytes
        return response.text if ctype.startswith("text/") else response.content


def _operations_with_success_body(schema) -> set[str]:
    out = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        for status, reply in operation.definition.raw["responses"].items():
            if status.startswith("2") and reply.get("content"):
                out.add(operation.label)
    return out


@pytest.mark.timeout(600)
def test_every_success_reply_matches_its_schema(served, db_url):
    """Each operation answers a realistic request with a 2xx whose body fits its schema."""
    base, admin, mp, proc = served
    call = _Walk(base, admin, mp)
    A, M = "/api/v1/admin", "/api/v1/mp"

    call("GET", "/api/v1/health")
    call("GET", "/api/v1/openapi.json")
    call("POST", f"{A}/session", body={"username": "boss", "secret": "secret-boss"})
    call("GET", f"{A}/me")
    call("GET", f"{A}/orders", query={"store": "s1"})
    kiosk_order = call("GET", f"{A}/orders/{{order_no}}", path_parameters={"order_no": "S1-0"})

    # Price book: a bad one is a documented 422 problem; a good one is published.
    call("PUT", f"{A}/stores/{{store}}/catalog", path_parameters={"store": "s1"},
         body={"version": "v1", "products": "none"}, expect=422)
    book = json.loads(PRICE_BOOK.read_text(encoding="utf-8"))
    published = call("PUT", f"{A}/stores/{{store}}/catalog", path_parameters={"store": "s1"},
                     body=book)
    call("GET", f"{A}/stores/{{store}}/catalog", path_parameters={"store": "s1"})
    call("GET", "/api/v1/catalog/{store}/{version}",
         path_parameters={"store": "s1", "version": published["version"]})

    # Mini-program: log in, order, claim the kiosk order, ask for an invoice.
    call("GET", "/sandbox/sns/jscode2session",
         query={"appid": "wx0000000000000000", "secret": "sandbox-app-secret",
                "js_code": "walker", "grant_type": "authorization_code"})
    call("POST", f"{M}/session", body={"code": "walker"})
    product = book["products"][0]["product_id"]
    mp_order = call("POST", f"{M}/orders", body={
        "store": "s1", "lines": [{"product_id": product, "qty": 2}], "fulfillment": "delivery",
        "shipping_address": {"name": "张三", "phone": "13800000000", "address": "上海"},
        "note": "请尽快"})
    call("GET", f"{M}/orders", query={"limit": 5})
    call("GET", f"{M}/orders/{{order_no}}", path_parameters={"order_no": mp_order["order_no"]})
    call("POST", f"{M}/orders/{{order_no}}/claim", path_parameters={"order_no": "S1-0"},
         body={"token": receipt_token("S1-0")})
    call("POST", f"{M}/orders/{{order_no}}/invoice", path_parameters={"order_no": "S1-0"},
         body={"kind": "company", "title": "某某公司", "tax_id": "91310000MA1FL0000X",
               "email": "finance@example.com"})
    call("GET", f"{M}/orders/{{order_no}}/invoice", path_parameters={"order_no": "S1-0"})

    # Staff: order lifecycle, notes, refunds, returns, invoices.
    order = {"order_no": mp_order["order_no"]}
    call("POST", f"{A}/orders/{{order_no}}/status", path_parameters=order,
         body={"status": "paid"})
    # (a paid delivery order is pending shipment by itself)
    call("POST", f"{A}/orders/{{order_no}}/status", path_parameters=order,
         body={"status": "shipped", "carrier": "SF", "tracking_no": "SF123"})
    call("POST", f"{A}/orders/{{order_no}}/notes", path_parameters=order,
         body={"text": "gift wrap"})
    call("POST", f"{A}/orders/{{order_no}}/returns", path_parameters={"order_no": "S1-0"},
         body={"kind": "return", "reason": "damaged", "restock": True,
               "lines": [{"line_no": 1, "qty": 1}]})
    call("POST", f"{A}/orders/{{order_no}}/refunds", path_parameters={"order_no": "S1-0"},
         body={"amount": 1, "reason": "damaged"})
    call("GET", f"{A}/refunds")
    call("GET", f"{A}/orders/{{order_no}}", path_parameters={"order_no": "S1-0"})
    invoices = call("GET", f"{A}/invoices")
    call("POST", f"{A}/invoices/{{invoice_id}}/status",
         path_parameters={"invoice_id": invoices["items"][0]["id"]}, body={"status": "issued"})

    # Stock and alerts: an adjustment below zero raises an oversell alert.
    stock = {"store": "s1", "product_id": product}
    call("PUT", f"{A}/stock/{{store}}/{{product_id}}", path_parameters=stock,
         body={"on_hand": 3})
    call("POST", f"{A}/stock/{{store}}/{{product_id}}/adjust", path_parameters=stock,
         body={"delta": -5, "reason": "shrinkage"})
    call("GET", f"{A}/stock")
    alerts = call("GET", f"{A}/alerts")
    call("POST", f"{A}/alerts/{{alert_id}}/resolve",
         path_parameters={"alert_id": alerts["items"][0]["id"]})
    call("GET", f"{A}/stats/daily")

    # Fleet: desired shadow, kiosk detail, a signed command.
    kiosk = {"store": "s1", "kiosk": "k1"}
    call("PUT", f"{A}/kiosks/{{store}}/{{kiosk}}/shadow", path_parameters=kiosk,
         body={"version": 1, "config": {"receipt": {"footer": "谢谢"}}})
    call("GET", f"{A}/kiosks/{{store}}/{{kiosk}}/shadow", path_parameters=kiosk)
    call("GET", f"{A}/kiosks/{{store}}/{{kiosk}}", path_parameters=kiosk)
    call("POST", f"{A}/kiosks/{{store}}/{{kiosk}}/commands", path_parameters=kiosk,
         body={"name": "ping", "args": {}})
    call("GET", f"{A}/fleet")

    # Payments: stored value, and an Alipay notification nobody signed ("fail").
    member = {"member_id": "m1"}
    call("POST", f"{A}/members/{{member_id}}/balance/topups", path_parameters=member,
         body={"amount": 5000, "key": "counter-1"})
    call("GET", f"{A}/members/{{member_id}}/balance", path_parameters=member)
    assert call("POST", "/api/v1/pay/notify/alipay", body=None) == "fail"

    # Each domain folder walks its own routes (tests/cloud_bridge/<domain>/walk.py).
    ctx = {"product": product, "mp_order": mp_order, "kiosk_order": kiosk_order,
           "db_url": db_url}  # a walk may add users (finance: a second, checking user)
    # fleet jobs: sign a bundle the bridge accepts, make a kiosk's download token
    ctx["signing_key"] = proc.env["BRIDGE_COMMAND_SIGNING_KEY"]
    for walk in domain_walks():
        walk(call, ctx)

    assert not call.failures, "\n".join(call.failures)
    # The WeChat notification has no success body to check (204).
    assert _operations_with_success_body(call.schema) - call.succeeded == set()
    assert proc.proc.poll() is None, "the server died"
