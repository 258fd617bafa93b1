"""A stand-in for systemd for a kiosk agent on a machine without it (the update demo and
the update tests): the boot guard first (``ExecStartPre``), then the agent of the current
release, started again whenever it exits (``Restart=always``, ``RestartSec``)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

#: systemd/kiosk-agent.service RestartSec is 2 s; shorter here, nothing else waits on it.
RESTART_S = 0.2


class Supervisor:
    """Stands in for systemd: the boot guard (``ExecStartPre``), then the service, started
    again whenever it exits (``Restart=always``, ``RestartSec``)."""

    def __init__(self, guard: list[str], argv: list[str], *, cwd: Path,
                 env: dict[str, str] | None = None, log: Path | None = None) -> None:
        self.guard, self.argv, self.cwd, self.env, self.log = guard, argv, cwd, env, log
        self.starts, self.stopping, self.proc = 0, False, None
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> Supervisor:
        self.thread.start()
        return self

    def _loop(self) -> None:
        out = open(self.log, "ab") if self.log else None
        try:
            while not self.stopping:
                subprocess.run(self.guard, cwd=self.cwd, env=self.env, stdout=out,
                               stderr=out, timeout=30, check=False)
                if self.stopping:
                    break
                self.starts += 1
                self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env,
                                             stdout=out, stderr=out)
                self.proc.wait()
                time.sleep(RESTART_S)
        finally:
            if out:
                out.close()

    def stop(self) -> None:
        self.stopping = True
        for _ in range(3):  # a start may race the flag: stop whatever runs now, again
            proc = self.proc
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self.thread.join(2)
            if not self.thread.is_alive():
                return


def kiosk_service(root: Path, config: Path, *, log: Path,
                  env: dict[str, str] | None = None) -> Supervisor:
    """``systemd/kiosk-agent.service`` for the kiosk whose updates root is ``root``: the
    guard copied to ``root/boot-guard``, then ``root/current/venv/bin/kiosk-agent run``.

    The agent runs its release's own code: no ``PYTHONPATH`` into a source checkout.
    """
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment.update(KIOSK_UPDATES_ROOT=str(root), PYTHONUNBUFFERED="1", **(env or {}))
    return Supervisor(
        [sys.executable, str(root / "boot-guard" / "guard.py"), "--root", str(root)],
        [str(root / "current" / "venv" / "bin" / "kiosk-agent"), "run", "--config",
         str(config)], cwd=config.parent, env=environment, log=log)
