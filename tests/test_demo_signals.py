"""``make demo DEMO_ARGS=--keep-running`` stopped by SIGTERM or SIGHUP (a supervisor,
``timeout``, a closed terminal) stops its broker, bridge, sandbox and agent, as Ctrl-C does.

The signal is sent once the whole system is up (the agent online): from then on every
child runs, in the scenario and while it keeps running alike."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_keep_running_demo_stops_its_children_on(sig, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "demo", "--fast", "--keep-running",
                             "--out", str(out)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    seen = []
    deadline = time.monotonic() + 120
    try:
        for line in proc.stdout:
            seen.append(line)
            # Once the agent is online every child runs (broker, sandbox, bridge, agent).
            if "online; display on" in line or time.monotonic() > deadline:
                break
        assert any("online; display on" in ln for ln in seen), "".join(seen[-30:])
        ps = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
        assert str(out) in ps  # the children are up
        proc.send_signal(sig)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    ps = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(out) not in ps, ps
