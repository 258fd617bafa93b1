"""Run ``cloud-bridge serve`` as a real process for the end-to-end tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0


def write_config(path: Path, *, db_url: str, worker: str, mqtt_port: int | None,
                 http: bool = True, auto_migrate: bool = False, sandbox: bool = True,
                 batch_wait_ms: int = 2) -> Path:
    mqtt = (f"enabled = true\nport = {mqtt_port}\nusername = \"\"\nclient_id = \"{worker}\"\n"
            "session_expiry_s = 300\nreconnect_min_s = 0.2\nreconnect_max_s = 1.0\n"
            if mqtt_port else "enabled = false\n")
    path.write_text(f"""
[bridge]
worker_id = "{worker}"

[database]
url = "{db_url}"
auto_migrate = {str(auto_migrate).lower()}

[mqtt]
{mqtt}
[ingest]
batch_wait_ms = {batch_wait_ms}

[http]
enabled = {str(http).lower()}
port = 0

[mp]
sandbox = {str(sandbox).lower()}
price_book = "{ROOT / 'config' / 'pricebook.example.json'}"

[rpc]
handler_modules = []

[logging]
level = "WARNING"
""", encoding="utf-8")
    return path


class BridgeProcess:
    """One ``cloud-bridge serve`` worker; ``url`` is its HTTP base once started."""

    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.env = env or {}
        self.log_path = log
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None

    def start(self) -> BridgeProcess:
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **self.env)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cloud_bridge.cli", "serve", "--config", str(self.config)],
            stdout=subprocess.PIPE, stderr=self._log, env=env, cwd=ROOT)
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                return self
            if "running without HTTP" in line:
                return self
        self.kill()
        raise RuntimeError("bridge did not start: " + self.log_path.read_text(errors="replace"))

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()


def add_user(config: Path, username: str, secret: str, role: str, store: str | None = None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), CB_TEST_SECRET=secret)
    cmd = [sys.executable, "-m", "cloud_bridge.cli", "admin", "add-user", "--config",
           str(config), "--username", username, "--role", role, "--secret-env", "CB_TEST_SECRET"]
    if store:
        cmd += ["--store", store]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def migrate(config: Path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "cloud_bridge.cli", "migrate", "--config",
                           str(config)], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
