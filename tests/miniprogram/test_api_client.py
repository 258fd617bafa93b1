"""The mini-program's API client against the bridge's OpenAPI document: every operation
the pages call (``miniprogram/lib/api.js``) is a path and method that ``cloud-bridge
openapi`` documents, with the same path parameters, and needs a session exactly when
the document says so. Needs only ``node`` (no npm packages)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from ..cloud_bridge.bridge_process import ROOT

MINIPROGRAM = ROOT / "miniprogram"
pytestmark = pytest.mark.skipif(shutil.which("node") is None,
                                reason="node is not installed (make test installs it)")


def client_operations() -> dict[str, list[str]]:
    script = ("globalThis.wx = {getStorageSync: () => ''};"
              "const api = require('./lib/api.js');"
              "process.stdout.write(JSON.stringify({ops: api.OPERATIONS,"
              " upcoming: Object.keys(api.UPCOMING),"
              " public: [...require('./lib/api.js').PUBLIC]}))")
    out = subprocess.run(["node", "-e", script], cwd=MINIPROGRAM, capture_output=True,
                         text=True, timeout=60, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def document() -> dict:
    """The bridge's OpenAPI document as ``cloud-bridge openapi`` prints it."""
    out = subprocess.run([sys.executable, "-m", "cloud_bridge.cli", "openapi"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def undocumented(ops: dict[str, list[str]], document: dict) -> list[str]:
    return [f"{name}: {method} {path}" for name, (method, path) in ops.items()
            if method.lower() not in document["paths"].get(path, {})]


def not_landed(ops: dict[str, list[str]], upcoming: list[str], document: dict) -> list[str]:
    """Upcoming operations of which the document has not one path yet (their feature has
    not landed); once any path of one landed, every operation of it must match."""
    prefixes = {path.split("{")[0].rstrip("/") for name in upcoming for _, path in [ops[name]]}
    absent = {p for p in prefixes if not any(d.startswith(p) for d in document["paths"])}
    return [name for name in upcoming if ops[name][1].split("{")[0].rstrip("/") in absent]


def test_every_client_operation_is_in_the_document(document):
    client = client_operations()
    assert len(client["ops"]) >= 14
    waiting = not_landed(client["ops"], client["upcoming"], document)
    ops = {k: v for k, v in client["ops"].items() if k not in waiting}
    assert undocumented(ops, document) == []


def test_an_upcoming_operation_is_checked_once_its_feature_landed(document):
    ops = {"surveyz": ["GET", "/api/v1/mp/nothing-here-yet"],
           "wrong": ["DELETE", "/api/v1/mp/orders/{order_no}"]}
    # Nothing of the first is served: it waits. The second's feature is served: checked.
    assert not_landed(ops, ["surveyz", "wrong"], document) == ["surveyz"]
    assert undocumented({"wrong": ops["wrong"]}, document) == [
        "wrong: DELETE /api/v1/mp/orders/{order_no}"]


def test_sessions_are_sent_where_the_document_asks_for_them(document):
    client = client_operations()
    waiting = not_landed(client["ops"], client["upcoming"], document)
    for name, (method, path) in client["ops"].items():
        if name in waiting:
            continue
        op = document["paths"][path][method.lower()]
        needs_session = any("mpToken" in s for s in op.get("security", []))
        assert needs_session == (name not in client["public"]), name


def test_the_check_sees_a_wrong_path_or_method(document):
    wrong = {"pay": ["POST", "/api/v1/mp/orders/{order_no}/payx"],
             "drop": ["DELETE", "/api/v1/mp/orders/{order_no}"],
             "order": ["GET", "/api/v1/mp/orders/{order_no}"]}
    assert undocumented(wrong, document) == [
        "pay: POST /api/v1/mp/orders/{order_no}/payx", "drop: DELETE /api/v1/mp/orders/{order_no}"]
