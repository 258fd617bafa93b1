"""A kiosk process for the kill tests: runs the updater and SIGKILLs itself at one phase.

``python update_child.py ROOT PUBKEY_HEX accept|boot ARGS_JSON KILL_AT ok|bad``: ``boot``
first runs the boot guard (as ``ExecStartPre`` does), then resumes the recorded update;
exits 75 when the updater asks for a restart. Reports go to ``ROOT/reports.jsonl``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT_DIR))

from contract.signing import load_public_key  # noqa: E402
from kiosk_agent.updates import guard  # noqa: E402
from kiosk_agent.updates.updater import RESTART_EXIT, Paths, Updater  # noqa: E402


def main() -> int:
    root, pub, mode, args, kill_at, health = sys.argv[1:7]
    root = Path(root)
    if mode == "boot":
        guard.settle(root)

    def hook(phase: str) -> None:
        marker = root / "killed"
        if phase == kill_at and not marker.exists():  # once, in whichever start gets there
            marker.write_text(phase)
            os.kill(os.getpid(), signal.SIGKILL)

    async def report(cmd_id, ok, result):
        with open(root / "reports.jsonl", "a", encoding="utf-8") as fh:  # noqa: ASYNC230
            fh.write(json.dumps({"cmd_id": cmd_id, "ok": ok, **result}) + "\n")

    async def restart():
        sys.stdout.flush()
        os._exit(RESTART_EXIT)

    async def check(baseline):
        return None if health == "ok" else "test decode failed"

    async def run() -> None:
        updater = Updater(Paths(root, root / "etc" / "kiosk.toml"),
                          [load_public_key(pub.encode())], report=report, restart=restart,
                          health=check, step_hook=hook)
        if mode == "accept":
            await updater.accept(json.loads(args))
        else:
            await updater.resume()
        if updater.task is not None:
            await updater.task

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
