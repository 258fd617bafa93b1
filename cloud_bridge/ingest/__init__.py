"""MQTT ingest: kiosk events stored once and acked end to end; fleet state; RPC.

The bridge subscribes with MQTT 5 shared subscriptions (``$share/bridge/...``),
so several workers split the kiosks' traffic. Events are buffered briefly and
stored in batches (one transaction: ``INSERT ... ON CONFLICT DO NOTHING`` on the
event id, plus the orders and stock moves of the new ones); only after the
commit is an :class:`~contract.wire.EventAck` published per kiosk. A kiosk
resends what is not acked, so a worker that dies mid-batch loses nothing and a
resent event is acked again without a second effect. An event that cannot be
accepted is rejected with a reason and the kiosk dead-letters it.

Per-kiosk order: each batch applies its events sorted by ``(store, kiosk, seq)``
and the stored ``seq`` keeps the kiosk's order for every reader.

Modules by concern:

- :mod:`.validation`: decode one event, refuse what cannot be accepted (with a reason);
- :mod:`.storage`: a batch stored in one transaction, each event once by its id;
- :mod:`.effects`: what a newly stored sale does (order rows, stock moves, stored value);
- :mod:`.fleet_messages`: status, telemetry, shadow reported and command results;
- :mod:`.rpc_server`: kiosk RPC requests answered over MQTT;
- :mod:`.worker`: the MQTT client (:class:`Ingest`) running all of the above.
"""

from .storage import BatchResult, store_events
from .worker import Ingest, IngestStats

__all__ = ["BatchResult", "Ingest", "IngestStats", "store_events"]
