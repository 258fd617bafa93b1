"""Ingest RPC server: kiosk requests on ``.../rpc/req`` answered on ``.../rpc/res``.

Each request is decoded, dispatched through :func:`cloud_bridge.rpc.dispatch` with a
bounded number in flight, and answered with the request's MQTT 5 correlation data.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contract.wire import topics as T
from contract.wire.base import WireError, decode
from contract.wire.rpc import RpcRequest

from .. import rpc

if TYPE_CHECKING:
    from ..config import BridgeConfig
    from ..db import Database
    from ..services import BridgeServices

log = logging.getLogger(__name__)

Publish = Callable[..., Awaitable[None]]


class RpcServer:
    """Answers kiosk RPC requests, at most ``config.rpc.concurrency`` at a time."""

    def __init__(self, config: BridgeConfig, db: Database, *, publish: Publish,
                 services: BridgeServices | None) -> None:
        self.config = config
        self.db = db
        self.publish = publish
        self.services = services
        self.limit = config.rpc.concurrency
        self.in_flight = 0

    def reserve(self) -> bool:
        """Take a place for one request BEFORE its task exists; ``False`` when all are taken.

        A flood of requests (one kiosk looping, or a chain's kiosks after an outage)
        then costs no task and no memory beyond the limit: the request is dropped and
        the kiosk's own deadline turns it into "unknown", which it settles by query.
        """
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    async def serve(self, client: aiomqtt.Client, store: str, kiosk: str, payload: bytes,
                    properties: Properties | None) -> bool:
        """Answer one request (the caller holds a :meth:`reserve` place); whether a reply
        was published."""
        try:
            return await self._serve(client, store, kiosk, payload, properties)
        finally:
            self.in_flight -= 1

    async def _serve(self, client: aiomqtt.Client, store: str, kiosk: str, payload: bytes,
                     properties: Properties | None) -> bool:
        try:
            req = decode(RpcRequest, payload)
        except WireError as err:
            rid = None
            with contextlib.suppress(Exception):
                obj = json.loads(payload)
                rid = obj.get("id") if isinstance(obj, dict) else None
            if not isinstance(rid, str) or not 0 < len(rid) <= 64:
                log.warning("unreadable rpc request from %s/%s: %s", store, kiosk, err.reason)
                return False
            reply = rpc.error_response(rid, rpc.BAD_REQUEST, err.reason)
        else:
            ctx = rpc.RpcContext(store=store, kiosk=kiosk, request_id=req.id,
                                 method=req.method, deadline=req.deadline, db=self.db,
                                 config=self.config, publish=self.publish,
                                 services=self.services)
            reply = await rpc.dispatch(ctx, req)
        props = Properties(PacketTypes.PUBLISH)
        corr = getattr(properties, "CorrelationData", None) if properties else None
        props.CorrelationData = corr if corr else reply.id.encode()
        try:
            await client.publish(T.KioskTopics(store, kiosk).rpc_res, reply.encode(), qos=1,
                                 properties=props)
        except aiomqtt.MqttError as err:
            log.warning("rpc reply to %s/%s lost: %s", store, kiosk, err)
            return False
        return True
