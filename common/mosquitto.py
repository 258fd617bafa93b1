"""A real Mosquitto broker started by the tests on a free port.

The configuration is rendered from the project's ``config/mosquitto`` files by
the caller (``conf_text``: e.g. the project's rules rendered by
:func:`cloud_bridge.provisioning.render_broker_config`) or, without one, a minimal
anonymous listener is written here. Used by the demo, the tests and the benches.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from .ports import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
START_TIMEOUT_S = 10.0
PORT_ATTEMPTS = 3


class _PortTaken(RuntimeError):
    """Mosquitto exited at start because its port was in use."""


class Broker:
    """One mosquitto process with its own config, persistence and log in ``workdir``."""

    def __init__(
        self, workdir: Path, port: int | None = None, extra_conf: str = "",
        conf_text: str | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        # A port we picked (and wrote into our own config) may be taken by another socket
        # between free_port() and mosquitto's bind: the first start then picks another.
        self._repick_port = port is None and conf_text is None
        self.extra_conf = extra_conf
        self.proc: subprocess.Popen[bytes] | None = None
        self.tls_port: int | None = None  # set by secured_broker(tls=...)
        self.conf_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        if conf_text is not None:
            self.conf_path.write_text(conf_text)

    def write_conf(self) -> None:
        if self.conf_path.exists() and "listener" in self.conf_path.read_text():
            return
        self.conf_path.write_text(
            f"""per_listener_settings false
listener {self.port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {self.workdir}/
log_dest file {self.log_path}
log_type error
log_type warning
max_queued_messages 100000
max_inflight_messages 0
set_tcp_nodelay true
{self.extra_conf}
"""
        )

    def start(self) -> Broker:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                return self._start()
            except _PortTaken:
                if not self._repick_port or attempt == PORT_ATTEMPTS:
                    raise
                self.port = free_port()
                self.conf_path.unlink()
        raise AssertionError("unreachable")

    def _start(self) -> Broker:
        self.write_conf()
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                self.proc = None
                if "Address already in use" in err:
                    raise _PortTaken(f"mosquitto could not listen on {self.port}: {err}")
                raise RuntimeError(f"mosquitto exited at start: {err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    self._repick_port = False  # restarts keep the port clients know
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        """Graceful stop (SIGTERM): the broker saves its persistence file."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """Hard kill (SIGKILL), as a crash or power loss would."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> Broker:
        self.stop()
        return self.start()
