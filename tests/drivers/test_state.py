"""drivers.state.DeviceState: one tracker, transitions logged once per outage."""

from __future__ import annotations

import logging
import threading

from drivers.state import ERROR, OK, WARNING, DeviceState

LOG = logging.getLogger("tests.device")


def test_outage_logged_once_recovery_says_what_it_was(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="tests.device")
    dev = DeviceState("printer", LOG)
    assert dev.snapshot() == ("unknown", "not started")
    assert dev.set(OK) is True
    assert dev.set(OK) is False  # no change, nothing logged
    dev.set(ERROR, "paper out")
    dev.set(ERROR, "paper out")
    dev.set(ERROR, "cover open")  # same outage, another reason
    dev.set(OK)
    dev.set(WARNING, "paper near end")
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert levels == [
        (logging.INFO, "printer ok"),
        (logging.ERROR, "printer: paper out"),
        (logging.DEBUG, "printer still failing: cover open"),
        (logging.WARNING, "printer ok, recovered after: cover open"),
        (logging.WARNING, "printer: paper near end"),
    ]
    assert dev.snapshot() == (WARNING, "paper near end")


def test_lifecycle_marks_are_silent(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="tests.device")
    dev = DeviceState("camera", LOG, state="stopped", reason="")
    dev.mark("starting", "")
    dev.mark("ended", "replay finished")
    assert caplog.records == []
    assert (dev.state, dev.reason) == ("ended", "replay finished")


def test_state_and_reason_change_together_across_threads() -> None:
    dev = DeviceState("scanner", LOG)
    pairs = {(OK, None), (ERROR, "unplugged")}
    seen: set[tuple[str, str | None]] = set()
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            dev.set(ERROR, "unplugged")
            dev.set(OK, None)

    t = threading.Thread(target=flip)
    t.start()
    try:
        for _ in range(20000):
            seen.add(dev.snapshot())
    finally:
        stop.set()
        t.join()
    assert seen <= pairs | {("unknown", "not started")}
