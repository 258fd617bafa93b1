"""Ingest RPC server: kiosk requests on ``.../rpc/req`` answered on ``.../rpc/res``.

Each request is decoded, dispatched through :func:`cloud_bridge.rpc.dispatch` with a
bounded number in flight, and answered with the request's MQTT 5 correlation data.
"""

from __future__ import annotations

import asyncio
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
        self._slots = asyncio.Semaphore(config.rpc.concurrency)

    async def serve(self, client: aiomqtt.Client, store: str, kiosk: str, payload: bytes,
                    properties: Properties | None) -> bool:
        """Answer one request; whether a reply was published."""
        async with self._slots:
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
