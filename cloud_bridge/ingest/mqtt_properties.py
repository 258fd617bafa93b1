"""MQTT 5 properties of received messages, decoded without rebuilding paho's tables.

paho decodes the properties of every PUBLISH it receives into a new ``Properties``,
whose constructor builds paho's table of every property's name, type and packets
again (two dicts and a list, 27 entries) and whose ``unpack`` first walks every name
to clear it. Kiosk events carry no properties at all, yet decoding a PUBLISH took
79 us, 11 us without that, on the 2-core bench machine; it was 13% of the bridge's
samples in the ingest bench (py-spy, PostgreSQL, 100 kiosks). The bridge's client keeps
everything else of paho as it is.
"""

from __future__ import annotations

import logging

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

# paho's tables, built once: paho only reads them (``__setattr__`` checks names and
# packet types against them; nothing adds to them).
_TABLES = Properties(PacketTypes.PUBLISH)


class SharedTableProperties(Properties):
    """paho's ``Properties`` sharing one set of its tables, read the same way.

    A fresh instance holds no property, so an empty property block (the one byte
    ``0``, what nearly every message has) leaves nothing to clear or read.
    """

    def __init__(self, packetType: int) -> None:
        # The names paho's __setattr__ lets through to object.__setattr__ as they are:
        # set directly, without its check (four calls per message received).
        object.__setattr__(self, "packetType", packetType)
        object.__setattr__(self, "types", _TABLES.types)
        object.__setattr__(self, "names", _TABLES.names)
        object.__setattr__(self, "properties", _TABLES.properties)

    def unpack(self, buffer: bytes | bytearray) -> tuple[Properties, int]:
        """Read the property block at the start of ``buffer``; ``(self, bytes used)``."""
        if buffer[:1] == b"\x00":
            return self, 1
        result: tuple[Properties, int] = super().unpack(buffer)
        return result


_installed = False


def share_property_tables() -> None:
    """Have paho's packet decoder build :class:`SharedTableProperties`, once per process.

    Only paho's internal decoder (``paho.mqtt._packet``) is pointed at it, and only when
    that decoder is the one this was written against (it builds ``Properties`` there);
    with another paho nothing changes and the bridge decodes as before.
    """
    global _installed
    if _installed:
        return
    _installed = True
    try:
        from paho.mqtt import _packet
    except ImportError:
        log.info("paho has no _packet decoder: MQTT properties decoded by paho as they are")
        return
    if getattr(_packet, "Properties", None) is not Properties:
        log.info("paho's decoder does not build Properties: decoded by paho as they are")
        return
    # The global name the decode functions look up when they run.
    vars(_packet)["Properties"] = SharedTableProperties
