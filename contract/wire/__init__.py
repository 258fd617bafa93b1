"""The wire contract shared by the kiosk agent and the cloud bridge.

Topics in :mod:`.topics`; message models in the other modules. Decode every
inbound payload with :func:`decode`, which raises only :class:`WireError`.
"""

from .base import SCHEMA_VERSION, WireError, WireMessage, decode, utcnow
from .commands import Command, CommandResult
from .events import Event, EventAck, OrderCompletedData, Rejection, uuid7
from .presence import KioskStatus, Telemetry
from .rpc import RpcError, RpcRequest, RpcResponse
from .shadow import CatalogPointer, ShadowDesired, ShadowReported
from .topics import KioskTopics, bridge_subscription, parse_kiosk_topic, store_catalog

__all__ = [
    "SCHEMA_VERSION", "CatalogPointer", "Command", "CommandResult", "Event", "EventAck",
    "KioskStatus", "KioskTopics", "OrderCompletedData", "Rejection", "RpcError", "RpcRequest",
    "RpcResponse", "ShadowDesired", "ShadowReported", "Telemetry", "WireError", "WireMessage",
    "bridge_subscription", "decode", "parse_kiosk_topic", "store_catalog", "utcnow", "uuid7",
]
