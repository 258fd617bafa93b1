"""The suite's midnight guard (tests/support/day_guard.py): which midnight is next, and
how long a test due to start close to one waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.day_guard import SETTLE_S, next_midnight, wait_s


def test_the_next_midnight_is_shanghais_in_the_afternoon_utc():
    at = datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)
    assert next_midnight(at) <= datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


def test_the_next_midnight_is_utcs_in_the_evening_utc():
    at = datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC)
    assert next_midnight(at) <= datetime(2027, 1, 1, tzinfo=UTC)
    assert next_midnight(at) > at


def test_a_test_close_to_midnight_waits_past_it_and_others_do_not():
    midnight = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 2026-12-01 00:00 in Shanghai
    close = midnight - timedelta(seconds=10)
    assert next_midnight(close) <= midnight
    if next_midnight(close) == midnight:  # no local midnight of this machine in between
        assert wait_s(close, 150) == 10 + SETTLE_S
    assert wait_s(midnight + timedelta(seconds=5), 150) == 0
