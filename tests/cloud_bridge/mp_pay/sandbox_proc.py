"""A payment sandbox in its own process, for tests that run the bridge as a process.

``payment_sandbox_env`` runs ``cloud-bridge sandbox`` and yields the environment that
points a bridge process at it (``CLOUD_BRIDGE_PAYMENTS`` = its manifest).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from ..bridge_process import ROOT

START_TIMEOUT_S = 20.0


@pytest.fixture
def payment_sandbox_env(tmp_path):
    manifest = tmp_path / "sandbox-manifest.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloud_bridge.cli", "sandbox", "--keys-dir",
         str(tmp_path / "sandbox-keys"), "--manifest", str(manifest)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert proc.stdout is not None
        line = proc.stdout.readline()     # the manifest, printed once the gateways listen
        assert line and time.monotonic() < deadline, "payment sandbox did not start"
        json.loads(line)
        yield {"CLOUD_BRIDGE_PAYMENTS": str(manifest)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
