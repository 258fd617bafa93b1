"""The wire contract: round trips, tolerance of newer fields, garbage never crashes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.wire import (
    Command,
    Event,
    EventAck,
    KioskStatus,
    KioskTopics,
    RpcRequest,
    RpcResponse,
    ShadowDesired,
    Telemetry,
    WireError,
    decode,
    parse_kiosk_topic,
    uuid7,
)
from contract.wire.events import OrderCompletedData
from contract.wire.topics import KIOSK_LEAVES, bridge_subscription, store_catalog

ids = st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)

MODELS = [Event, EventAck, KioskStatus, Telemetry, RpcRequest, RpcResponse, Command, ShadowDesired]


@given(
    store=ids, kiosk=ids, seq=st.integers(0, 2**40), ts=aware,
    data=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
)
def test_event_round_trip(store, kiosk, seq, ts, data):
    event = Event(type="order.completed", store=store, kiosk=kiosk, seq=seq, ts=ts, data=data)
    assert decode(Event, event.encode()) == event


@given(extra=st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=4))
def test_unknown_fields_from_newer_schema_are_ignored(extra):
    event = Event(type="print.done", store="s1", kiosk="k1", seq=3)
    obj = json.loads(event.encode())
    for key, value in extra.items():
        obj.setdefault(key, value)
    obj["v"] = 2
    parsed = decode(Event, json.dumps(obj))
    assert parsed.event_id == event.event_id and parsed.v == 2


@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=60)
@given(payload=st.binary(max_size=200))
def test_garbage_bytes_only_raise_wire_error(model, payload):
    try:
        decode(model, payload)
    except WireError as err:
        assert err.reason


@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=60)
@given(obj=json_values)
def test_any_json_only_raises_wire_error(model, obj):
    try:
        decode(model, json.dumps(obj))
    except WireError as err:
        assert err.reason


def test_missing_version_and_required_fields_are_rejected_with_reason():
    with pytest.raises(WireError, match="'v'"):
        decode(Event, b'{"type": "x", "store": "s", "kiosk": "k", "seq": 1}')
    with pytest.raises(WireError, match=r"^seq: "):
        decode(Event, b'{"v": 1, "type": "x", "store": "s", "kiosk": "k"}')
    # The reasons of a payload that is not JSON are json.loads's (pydantic's parser
    # only reads first): the kiosk's dead letter and the bridge's log say where it broke.
    with pytest.raises(WireError, match=r"^payload is not JSON: Expecting property name "
                       r"enclosed in double quotes: line 1 column 2 \(char 1\)$"):
        decode(Event, b"{nope")
    with pytest.raises(WireError, match=r"^payload is not JSON: Unexpected UTF-8 BOM"):
        decode(Event, b'\xef\xbb\xbf{"v": 1}')
    with pytest.raises(WireError, match=r"^payload is not UTF-8: invalid start byte at byte 9$"):
        decode(Event, b'{"v": 1}\n\xff')
    with pytest.raises(WireError, match="positive integer"):
        decode(Event, b'{"v": "1"}')


def test_deeply_nested_json_is_rejected_not_crashing():
    with pytest.raises(WireError):
        decode(Event, "[" * 100_000 + "]" * 100_000)


def test_order_payload_money_is_integer_fen():
    line = {
        "line_no": 1, "product_id": "p1", "name_zh": "水", "qty": 1, "unit_price": 200,
        "list_amount": 200, "discount": 0, "amount": 200, "vat_rate_bp": 1300,
    }
    base = {
        "order_no": "k1-20261129-0001", "created_at": "2026-11-29T10:00:00Z",
        "completed_at": "2026-11-29T10:01:00Z", "lines": [line], "subtotal": 200,
        "discount_total": 0, "total": 200,
    }
    assert OrderCompletedData.model_validate(base).total == 200
    with pytest.raises(ValueError):
        OrderCompletedData.model_validate({**base, "total": 2.5})


def test_uuid7_is_time_ordered_and_unique():
    values = [uuid7() for _ in range(2000)]
    assert len(set(values)) == len(values)
    assert all(v[14] == "7" for v in values)
    assert [v[:13] for v in values] == sorted(v[:13] for v in values)
    # The canonical text of a version-7, RFC 4122 variant UUID.
    for v in values[:50]:
        u = uuid.UUID(v)
        assert (str(u), u.version, u.variant) == (v, 7, uuid.RFC_4122)


@given(store=ids, kiosk=ids, leaf=st.sampled_from(KIOSK_LEAVES))
def test_topics_parse_back(store, kiosk, leaf):
    topics = KioskTopics(store, kiosk)
    assert parse_kiosk_topic(topics.leaf(leaf)) == (store, kiosk, leaf)


@given(topic=st.text(max_size=60))
def test_parse_topic_never_raises(topic):
    result = parse_kiosk_topic(topic)
    assert result is None or result[2] in KIOSK_LEAVES


def test_topic_ids_refuse_wildcards_and_separators():
    for bad in ("a/b", "+", "#", "", "x" * 65):
        with pytest.raises(ValueError):
            KioskTopics(bad, "k1")
    assert bridge_subscription("events") == "$share/bridge/kiosk/v1/+/+/events"
    assert store_catalog("s1") == "kiosk/v1/s1/catalog"


def test_command_signing_bytes_exclude_signature_and_are_canonical():
    now = datetime(2026, 11, 29, tzinfo=UTC)
    cmd = Command(
        cmd_id="c1", name="ping", store="s1", kiosk="k1", issued_at=now, expires_at=now,
        nonce="n" * 16, args={"b": 1, "a": "中"},
    )
    signed = cmd.model_copy(update={"sig": "abc"})
    assert cmd.signing_bytes() == signed.signing_bytes()
    assert b'"a":"\xe4\xb8\xad","b":1' in cmd.signing_bytes()


def json_loads_reading(model, payload):
    """What decode answered when it parsed with json.loads alone: the oracle of its
    faster parser (pydantic's, reading first): same acceptance, values and reasons."""
    try:
        text = bytes(payload).decode("utf-8") if isinstance(payload, bytes) else payload
        obj = json.loads(text)
    except UnicodeDecodeError as err:
        return ("refused", f"payload is not UTF-8: {err.reason} at byte {err.start}")
    except (ValueError, RecursionError) as err:
        return ("refused", f"payload is not JSON: {str(err)[:120]}")
    if not isinstance(obj, dict) or "v" not in obj:
        return ("refused", "not an object with 'v'")
    if not isinstance(obj["v"], int) or isinstance(obj["v"], bool) or obj["v"] < 1:
        return ("refused", "field 'v' must be a positive integer")
    try:
        return repr(model.model_validate(obj).model_dump())
    except ValueError:
        return ("refused", "invalid")


def decode_reading(model, payload):
    try:
        return repr(decode(model, payload).model_dump())
    except WireError as err:
        if err.reason.startswith(("payload is a JSON", "missing field 'v'")):
            return ("refused", "not an object with 'v'")
        if err.reason.startswith(("payload is not", "field 'v'")):
            return ("refused", err.reason)
        return ("refused", "invalid")


EVENT_HEAD = (b'{"event_id":"e-0000001","type":"note","store":"s1","kiosk":"k1","seq":1,'
              b'"ts":"2026-03-01T04:00:00+00:00"')
# Where pydantic's JSON parser and json.loads might read apart.
ODD_PAYLOADS = [
    EVENT_HEAD + b',"v":1,"data":{"n":123456789012345678901234567890}}',
    EVENT_HEAD + b',"v":1,"data":{"n":1e400,"m":NaN,"i":-Infinity}}',
    EVENT_HEAD + b',"v":1,"data":{"s":"\\ud800"}}',  # a lone surrogate: json.loads reads it
    EVENT_HEAD + b',"v":1,"data":{"s":"\xed\xa0\x80"}}',  # invalid UTF-8
    EVENT_HEAD + b',"v":1,"data":{"a":1,"a":2}}',
    b"\xef\xbb\xbf" + EVENT_HEAD + b',"v":1}',  # a byte order mark
    EVENT_HEAD + b',"v":1}\xff',
    EVENT_HEAD + b',"v":true}',
    EVENT_HEAD + b',"v":0}',
    EVENT_HEAD + b',"v":"1"}',
    EVENT_HEAD + b'}',  # no v
    EVENT_HEAD + b',"v":1,"seq":-1}',
    b'[1, 2]',
    b'"text"',
    b'',
    # Deeper than pydantic's parser goes (200), not than json.loads: accepted.
    EVENT_HEAD + b',"v":1,"data":{"d":' + b'[' * 400 + b']' * 400 + b'}}',
    EVENT_HEAD + b',"v":1,"data":{"d":' + b'[' * 3000 + b']' * 3000 + b'}}',  # refused
    EVENT_HEAD + b',"v":1,"data":{"s":"\\u0000","f":1.5e-7,"g":-0,"h":1E2}}',
    EVENT_HEAD + b',"v":1} ',
    EVENT_HEAD + b',"v":1}{}',
]


@pytest.mark.parametrize("payload", ODD_PAYLOADS, ids=range(len(ODD_PAYLOADS)))
def test_decode_reads_as_json_loads(payload):
    assert decode_reading(Event, payload) == json_loads_reading(Event, payload)
    text = payload.decode("utf-8", "surrogatepass") if b"\xff" not in payload else None
    if text is not None and "\ufeff" not in text:
        assert decode_reading(Event, text) == json_loads_reading(Event, text)


def test_the_lone_surrogate_and_the_deep_document_are_accepted():
    assert decode(Event, ODD_PAYLOADS[2]).data == {"s": "\ud800"}
    assert decode(Event, ODD_PAYLOADS[15]).data["d"]


@settings(max_examples=200)
@given(payload=st.binary(max_size=120) | st.builds(
    lambda obj, v: json.dumps({**obj, "v": v}).encode(),
    st.dictionaries(st.sampled_from(["type", "store", "kiosk", "seq", "event_id", "data", "x"]),
                    json_values, max_size=6),
    st.integers(-1, 3) | st.booleans() | st.text(max_size=2)))
def test_any_payload_decodes_as_json_loads_reads_it(payload):
    assert decode_reading(Event, payload) == json_loads_reading(Event, payload)
