"""Fleet messages in one drain: only the newest telemetry per kiosk is applied."""

from __future__ import annotations

from cloud_bridge.ingest.fleet_messages import latest_telemetry_only
from contract.wire import topics as T


def test_older_telemetry_of_a_kiosk_is_dropped_other_messages_kept_in_kiosk_order() -> None:
    batch = [
        ("s1", "k2", T.TELEMETRY, b"k2-old"),
        ("s1", "k1", T.STATUS, b"k1-online"),
        ("s1", "k2", T.TELEMETRY, b"k2-new"),
        ("s1", "k1", T.TELEMETRY, b"k1-only"),
        ("s1", "k2", T.CMD_RES, b"k2-result"),
        ("s1", "k1", T.SHADOW_REPORTED, b"k1-reported"),
    ]
    kept = latest_telemetry_only(batch)
    assert [p for *_, p in kept] == [
        b"k1-online", b"k1-only", b"k1-reported",  # kiosk order; arrival order within
        b"k2-new", b"k2-result",
    ]
