"""No test runs across a midnight: a test due to start shortly before one waits for it.

Much of the product books by calendar day (the shop's day in Asia/Shanghai, UTC days in
the providers' bills, the machine's local day on a kiosk), and a test commonly does
something "now", then asks for "today's" report, bill or close. Where the clock cannot be
handed to the code under test (a sandbox provider in another task, the CLI in a thread,
a bridge subprocess), such a test fails when a midnight falls between the two: CI runs
at any time of day, 15:59:59 UTC included (midnight in Shanghai).

A test cannot take longer than its timeout, so one that starts at least its timeout
before the next midnight finishes (or is stopped) before it. One that would start
closer waits for the midnight to pass first. The wait happens before the timeout starts
counting (this hook runs outside pytest-timeout's) and costs at most one timeout's
length per midnight the suite runs across; away from midnight it costs nothing.

Minute and hour boundaries are not covered (they come too often to wait for): a test
that buckets by minute or hour anchors its times at the bucket's start instead.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

ZONES: tuple[tzinfo, ...] = (ZoneInfo("Asia/Shanghai"), UTC)
MAX_GUARD_S = 240.0  # the longest wait; tests allowed longer are end-to-end runs
SETTLE_S = 1.0       # waits until this far past the midnight (clock granularity, rounding)


def next_midnight(at: datetime) -> datetime:
    """The first midnight after ``at`` in any of the business zones or the local zone."""
    zones = (*ZONES, at.astimezone().tzinfo)
    candidates = []
    for zone in zones:
        local = at.astimezone(zone)
        start = datetime(local.year, local.month, local.day, tzinfo=zone)
        candidates.append((start + timedelta(days=1)).astimezone(UTC))
    return min(candidates)


def guard_s(item: pytest.Item) -> float:
    """How long before a midnight ``item`` must start: its timeout, capped."""
    marker = item.get_closest_marker("timeout")
    timeout: float | None = None
    if marker is not None and marker.args:
        timeout = float(marker.args[0])
    elif marker is not None and "timeout" in marker.kwargs:
        timeout = float(marker.kwargs["timeout"])
    else:
        ini = item.config.getini("timeout")
        timeout = float(ini) if ini else None
    if not timeout or timeout <= 0:
        return MAX_GUARD_S
    return min(timeout, MAX_GUARD_S)


def wait_s(at: datetime, guard: float) -> float:
    """Seconds to wait at ``at`` so that no midnight falls within ``guard`` seconds."""
    left = (next_midnight(at) - at).total_seconds()
    return left + SETTLE_S if left < guard else 0.0


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    pause = wait_s(datetime.now(UTC), guard_s(item))
    if pause > 0:
        reporter = item.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"\nwaiting {pause:.0f} s for midnight to pass before "
                                f"{item.nodeid}")
        time.sleep(pause)
    yield
