"""The demo's child processes (broker, sandboxes, bridge, agent): started, watched, and
always stopped on exit, also on Ctrl-C and on errors (no orphans)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

#: A child that does not stop within this after SIGTERM is killed.
STOP_TIMEOUT_S = 10.0


def cli(name: str) -> list[str]:
    """The project's console script (``cloud-bridge``, ``kiosk-agent``) as a user runs it."""
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return [str(script)]
    module = {"cloud-bridge": "cloud_bridge.cli", "kiosk-agent": "kiosk_agent.cli"}[name]
    return [sys.executable, "-m", module]


class Children:
    """Every process the demo started, by name; :meth:`stop_all` in reverse order."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: dict[str, subprocess.Popen] = {}
        self._files: list[Any] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None,
              stdout_pipe: bool = False) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        self._files.append(log)
        proc = subprocess.Popen(
            argv, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else log, stderr=log,
            cwd=Path(__file__).resolve().parent.parent,
        )
        self.procs[name] = proc
        return proc

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def stop(self, name: str) -> int | None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)
        for f in self._files:
            f.close()
        self._files.clear()


def run_cli(argv: list[str], env: dict[str, str] | None = None, timeout: float = 60) -> str:
    """Run a one-shot CLI command; its output, or RuntimeError with its last lines."""
    proc = subprocess.run(argv, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(Path(a).name for a in argv[:3])}: " + " | ".join(tail))
    return proc.stdout


def wait_port(port: int, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None)


class _UnixHTTPConnection(HTTPConnection):
    def __init__(self, path: str, timeout: float = 10.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class ControlClient:
    """The agent's local control API (what kiosk-tui talks to), read-only calls."""

    def __init__(self, socket_path: Path) -> None:
        self.path = str(socket_path)

    def get(self, url: str) -> Any:
        conn = _UnixHTTPConnection(self.path)
        try:
            conn.request("GET", url)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"control API {url}: HTTP {resp.status}")
            return json.loads(body)
        finally:
            conn.close()

    def try_get(self, url: str) -> Any:
        try:
            return self.get(url)
        except (OSError, RuntimeError, ValueError):
            return None


class AdminClient:
    """The bridge's admin API (the merchant console's)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:300]
            raise RuntimeError(f"admin API {method} {path}: HTTP {err.code} {detail}") from None

    def login(self, username: str, secret: str) -> None:
        self.token = self.call("POST", "/api/v1/admin/session",
                               {"username": username, "secret": secret})["token"]

    def order(self, order_no: str) -> Any:
        try:
            return self.call("GET", f"/api/v1/admin/orders/{order_no}")
        except RuntimeError as err:
            if "HTTP 404" in str(err):
                return None
            raise
