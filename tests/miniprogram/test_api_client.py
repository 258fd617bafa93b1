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


def test_every_client_operation_is_in_the_document(document):
    client = client_operations()
    assert len(client["ops"]) >= 14
    assert undocumented(client["ops"], document) == []


def test_sessions_are_sent_where_the_document_asks_for_them(document):
    client = client_operations()
    for name, (method, path) in client["ops"].items():
        op = document["paths"][path][method.lower()]
        needs_session = any("mpToken" in s for s in op.get("security", []))
        assert needs_session == (name not in client["public"]), name


def test_the_check_sees_a_wrong_path_or_method(document):
    wrong = {"pay": ["POST", "/api/v1/mp/orders/{order_no}/payx"],
             "drop": ["DELETE", "/api/v1/mp/orders/{order_no}"],
             "order": ["GET", "/api/v1/mp/orders/{order_no}"]}
    assert undocumented(wrong, document) == [
        "pay: POST /api/v1/mp/orders/{order_no}/payx", "drop: DELETE /api/v1/mp/orders/{order_no}"]
