"""Outbox events encoded byte for byte as ``Event(...).encode()``, without the model.

A sale writes two events in its transaction. Building and validating a pydantic
``Event`` for each and encoding its ``data`` (for ``order.completed`` the whole order,
already encoded once for its row) cost more CPU per sale than all the sale's SQL
statements together. Here the envelope is put together from the same pieces pydantic
writes: each value goes through pydantic's own JSON serializer (``to_json``, the
serializer ``Event`` uses for ``data: dict[str, Any]``; a ``datetime`` adapter for
``ts``), in the field order of ``Event``. What ``Event`` validates is checked too: the
store and kiosk once per journal, each event type once, the seq on every event.

If ``Event`` ever gets other fields (or another order), :data:`EXACT` is false and every
event is encoded through the model again; ``tests/kiosk_agent/test_journal_envelope.py``
compares both ways.
"""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import TypeAdapter
from pydantic_core import to_json

from contract.wire.events import Event, uuid7

# Event's fields in the order its JSON lists them: what EventEncoder writes.
_FIELDS = ("v", "event_id", "type", "store", "kiosk", "seq", "ts", "data")
EXACT = tuple(Event.model_fields) == _FIELDS

_TS: TypeAdapter[datetime] = TypeAdapter(datetime)


def encode_ts(ts: datetime) -> bytes:
    """``ts`` as Event writes it (``"2026-12-06T07:52:12.473716Z"``)."""
    return _TS.dump_json(ts)


class EventEncoder:
    """Encodes the events of one store's kiosk; raises what ``Event`` would for bad ids."""

    def __init__(self, store: str, kiosk: str) -> None:
        probe = Event(event_id=uuid7(), type="probe", store=store, kiosk=kiosk, seq=0)
        self.store, self.kiosk = store, kiosk
        self._head = b'{"v":' + to_json(probe.v) + b',"event_id":'
        self._ids = b',"store":' + to_json(probe.store) + b',"kiosk":' + to_json(probe.kiosk)
        self._types: dict[str, bytes] = {}

    def _type(self, etype: str) -> bytes:
        encoded = self._types.get(etype)
        if encoded is None:
            # Validated as Event validates it (length), once per type.
            Event(event_id=uuid7(), type=etype, store=self.store, kiosk=self.kiosk, seq=0)
            encoded = self._types[etype] = b',"type":' + to_json(etype)
        return encoded

    def encode(self, event_id: str, etype: str, seq: int, ts: bytes, data: bytes) -> bytes:
        """The event's bytes; ``ts`` from :func:`encode_ts`, ``data`` a compact JSON object
        as pydantic writes it (``model_dump_json()``, ``to_json(dict)``)."""
        if not EXACT or seq < 0 or not 8 <= len(event_id) <= 64:
            # Through the model: its validation error, or a changed Event.
            return Event(
                event_id=event_id, type=etype, store=self.store, kiosk=self.kiosk, seq=seq,
                ts=_TS.validate_json(ts), data=json.loads(data),
            ).encode()
        return b"".join((
            self._head, to_json(event_id), self._type(etype), self._ids,
            b',"seq":', str(seq).encode(), b',"ts":', ts, b',"data":', data, b"}",
        ))
