"""paho's decoder with shared property tables reads what paho reads."""

from __future__ import annotations

import struct

import pytest
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud_bridge.ingest.mqtt_properties import SharedTableProperties, share_property_tables

V5 = MQTTProtocolVersion.MQTTv5
QOS1_PUBLISH = 0x32


def publish_packet(topic: str, properties: bytes, payload: bytes, mid: int = 7) -> bytes:
    """The variable header and payload of a QoS 1 PUBLISH, as paho's decoder gets them."""
    name = topic.encode()
    return struct.pack("!H", len(name)) + name + struct.pack("!H", mid) + properties + payload


def rpc_properties() -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = "kiosk/v1/s1/k1/rpc/res"
    props.CorrelationData = b"\x01\x02"
    props.UserProperty = [("trace", "abc"), ("lang", "zh")]
    props.MessageExpiryInterval = 30
    return props


@pytest.mark.parametrize("properties", [None, rpc_properties()], ids=["none", "rpc"])
def test_decoded_like_paho(properties: Properties | None) -> None:
    block = properties.pack() if properties is not None else b"\x00"
    packet = publish_packet("kiosk/v1/s1/k1/rpc/req", block, b'{"v":1}')
    expected, used = Properties(PacketTypes.PUBLISH).unpack(block)  # paho's own reading

    share_property_tables()
    got = _packet.decode_publish(QOS1_PUBLISH, packet, V5)

    assert isinstance(got.properties, SharedTableProperties)
    assert used == len(block)
    assert got.properties.json() == expected.json()
    assert (got.topic, got.mid, got.payload) == (b"kiosk/v1/s1/k1/rpc/req", 7, b'{"v":1}')


def test_instances_do_not_share_values() -> None:
    share_property_tables()
    first = SharedTableProperties(PacketTypes.PUBLISH)
    first.unpack(rpc_properties().pack())
    second = SharedTableProperties(PacketTypes.PUBLISH)
    second.unpack(b"\x00")
    assert second.json() == {}
    assert first.json()["CorrelationData"] == "0102"
    with pytest.raises(Exception, match="does not apply"):
        first.SessionExpiryInterval = 5  # the shared tables still check packet types


async def test_paho_client_receives_through_the_shared_tables(broker) -> None:
    """The patch is on paho's private decoder: this fails as soon as an installed paho
    reads PUBLISH packets some other way (the patch would then be silently unused) or
    reads their properties differently."""
    import aiomqtt

    share_property_tables()
    topic = "kiosk/v1/s1/k1/rpc/req"
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="props-test",
                              protocol=aiomqtt.ProtocolVersion.V5) as client:
        await client.subscribe(topic, qos=1)
        await client.publish(topic, b"plain", qos=1)
        await client.publish(topic, b"rpc", qos=1, properties=rpc_properties())
        got = []
        async for msg in client.messages:
            got.append(msg)
            if len(got) == 2:
                break
    assert [m.payload for m in got] == [b"plain", b"rpc"]
    assert all(isinstance(m.properties, SharedTableProperties) for m in got)
    assert got[0].properties.json() == {}
    sent = rpc_properties().json()
    assert {k: got[1].properties.json()[k] for k in sent} == sent
