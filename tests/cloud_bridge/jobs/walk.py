"""The fleet job routes in the OpenAPI success walk of ``test_openapi_fuzz``.

Needs the bridge's command signing key in ``ctx["signing_key"]`` (hex) to sign a bundle
the bridge accepts and to make a kiosk's download token.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from cloud_bridge.jobs import runtime
from contract.bundles import build_bundle
from contract.signing import generate_signing_key, load_private_key

A = "/api/v1/admin/fleet"
BIN = "application/octet-stream"


def walk(call, ctx) -> None:
    key = load_private_key(ctx["signing_key"].encode())
    with tempfile.TemporaryDirectory() as tmp:
        good, bad = Path(tmp) / "good.tar", Path(tmp) / "bad.tar"
        build_bundle(good, "config", "walk-1", {"kiosk.toml": b"[kiosk]\n"}, key)
        build_bundle(bad, "config", "walk-1", {"kiosk.toml": b"[kiosk]\n"},
                     generate_signing_key())
        call("POST", f"{A}/bundles", body=bad.read_bytes(), media_type=BIN, expect=422)
        bundle = call("POST", f"{A}/bundles", body=good.read_bytes(), media_type=BIN)
    sha = bundle["sha256"]
    call("PUT", f"{A}/groups/{{group}}", path_parameters={"group": "walkers"},
         body={"kiosks": ["s1/k1"]})
    job = call("POST", f"{A}/jobs", body={"bundle_sha256": sha, "target": ["group:walkers"],
                                          "start": False})
    jid = {"job_id": job["id"]}
    call("GET", f"{A}/jobs")
    call("GET", f"{A}/jobs/{{job_id}}", path_parameters=jid)
    call("GET", f"{A}/executions", query={"store": "s1"})
    call("POST", f"{A}/jobs/{{job_id}}/resume", path_parameters=jid)
    call("POST", f"{A}/jobs/{{job_id}}/pause", path_parameters=jid)
    call("POST", f"{A}/jobs/{{job_id}}/cancel", path_parameters=jid)
    call("POST", f"{A}/jobs/{{job_id}}/cancel", path_parameters=jid, expect=409)
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    token = runtime.make_token(hashlib.sha256(runtime.TOKEN_CONTEXT + raw).digest(),
                               "s1", "k1", sha)
    dl = "/api/v1/fleet/bundles/{sha256}"
    call("GET", dl, path_parameters={"sha256": sha},
         query={"store": "s1", "kiosk": "k1", "token": token})
    call("GET", dl, path_parameters={"sha256": sha}, query={"store": "s1", "kiosk": "k1"},
         expect=401)
