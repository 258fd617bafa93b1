"""Command line of the demo."""

from __future__ import annotations

import argparse
import shutil
import signal
from pathlib import Path

from . import term


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo-out"),
                        help="work directory (emptied first; default ./demo-out)")
    parser.add_argument("--local", action="store_true",
                        help="only the kiosk on fakes (no broker, no cloud)")
    parser.add_argument("--fast", action="store_true", help="shorter pauses (tests)")
    parser.add_argument("--update", action="store_true",
                        help="a staged software update of two kiosks, then a bad release "
                             "rolled back")
    parser.add_argument("--keep-running", action="store_true",
                        help="leave the system up at the end (Ctrl-C stops it)")
    return parser.parse_args(argv)


def _stop_like_ctrl_c(signum: int, frame: object) -> None:
    # SIGTERM (a supervisor, `timeout`) and SIGHUP (a closed terminal) stop the demo the
    # way Ctrl-C does: the `finally` blocks stop every child (broker, bridge, sandbox,
    # agent) instead of leaving them running without their parent.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop_like_ctrl_c)
    args = parse_args(argv)
    out: Path = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    try:
        from . import local

        if args.local:
            return local.run(out, fast=args.fast)
        if args.update:
            from . import update

            return update.run(out, fast=args.fast)
        from . import system

        try:
            return system.run(out, fast=args.fast, keep_running=args.keep_running)
        except system.Unavailable as why:
            term.warn(f"整套系统无法在本机运行 the whole system cannot run here: {why}")
            term.note("running the kiosk alone on fakes instead")
            return local.run(out / "local", fast=args.fast)
    except KeyboardInterrupt:
        term.warn("interrupted 已中断")
        return 130
    except Exception as err:  # the demo reports, it does not dump tracebacks
        term.warn(f"演示失败 demo failed: {type(err).__name__}: {err}")
        term.note(f"logs: {out}")
        return 1
