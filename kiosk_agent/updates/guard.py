"""Boot guard: run by the service manager before each start of the agent (stdlib only).

``python3 -m kiosk_agent.updates.guard --root /opt/kiosk`` (systemd ``ExecStartPre``; in
production copy this file out of the releases, e.g. ``/opt/kiosk/boot-guard.py``, so a
broken release cannot break its own rollback). It settles what a power cut interrupted:

- ``switching``: the link already names the new release -> ``trial``; else -> back to
  ``installed`` (the agent switches again when idle);
- ``trial``: one more start of the new release; after ``MAX_TRIALS`` starts without a
  commit (the new release crashes before its health check) -> switch back, ``rolled_back``;
- ``rolling_back``: finish it (point the link at the previous release).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a copied file
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from state import link_target, read_json, switch_link, write_json  # type: ignore
else:
    from .state import link_target, read_json, switch_link, write_json

MAX_TRIALS = 3


def settle(root: Path, max_trials: int = MAX_TRIALS) -> str:
    """Make the links and ``state.json`` agree; returns what it did (for the log)."""
    path = root / "updates" / "state.json"
    st = read_json(path)
    if not st:
        return "no update"
    phase, link = st.get("phase"), Path(st.get("link") or root / "current")
    if phase == "switching":
        st["phase"] = "trial" if link_target(link) == st.get("new") else "installed"
        write_json(path, st)
        return f"switch settled: {st['phase']}"
    if phase == "trial":
        st["trials"] = int(st.get("trials", 0)) + 1
        if st["trials"] > max_trials:
            st["phase"] = "rolling_back"
            st["reason"] = f"new release did not pass its health check in {max_trials} starts"
            write_json(path, st)
            phase = "rolling_back"
        else:
            write_json(path, st)
            return f"trial start {st['trials']}"
    if phase == "rolling_back":
        if st.get("previous"):
            switch_link(link, st["previous"])
        st["phase"] = "rolled_back"
        write_json(path, st)
        return "rolled back"
    # A finished update leaves the link on the release it settled on; say so when it does
    # not (the link was changed outside the updater), so the log shows what will start.
    settled = {"committed": st.get("new"), "rolled_back": st.get("previous")}.get(str(phase))
    if settled and link_target(link) != settled:
        return f"nothing to settle ({phase}), but {link} names {link_target(link)}, not {settled}"
    return f"nothing to settle ({phase})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="settle an interrupted kiosk update")
    p.add_argument("--root", type=Path, default=Path("/opt/kiosk"))
    p.add_argument("--max-trials", type=int, default=MAX_TRIALS)
    args = p.parse_args(argv)
    try:
        print(f"kiosk boot guard: {settle(args.root, args.max_trials)}", file=sys.stderr)
    except OSError as err:  # never stop the kiosk from starting
        print(f"kiosk boot guard: {err}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
