"""New mini-program orders of the store, as the bridge last announced them, for the staff
TUI, and the staff's acknowledgement of one.

The bridge keeps a retained :class:`~contract.wire.mp_orders.MpOrderAlerts` on
``kiosk/v1/{store}/mp_orders``; the broker hands it to the kiosk on every connect. Staff
acknowledge an order in the TUI: ``mp_order.ack`` over the kiosk's RPC resolves it at the
bridge (which then publishes the shorter list to every kiosk of the store); this kiosk
drops it from its own list at once. Nothing is stored on disk: while the kiosk has not
heard from the bridge, the TUI says so rather than showing an old list as current.
"""

from __future__ import annotations

import logging

from common.jsontypes import JsonObject
from contract.wire import rpc as wire_rpc
from contract.wire.base import decode
from contract.wire.mp_orders import MpOrderAckParams, MpOrderAlerts

from .link import LinkDown, RpcFailed, RpcTimeout
from .store_board import StoreBoard

log = logging.getLogger(__name__)

# Deadline of one mp_order.ack: a resolve and a publish at the bridge.
ACK_TIMEOUT_S = 10.0


class AckFailed(Exception):
    """The acknowledgement did not reach the bridge (``code``: offline, not_found, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class MpOrderBoard(StoreBoard[MpOrderAlerts]):
    """Keeps the newest list of this kiosk's store; acknowledges orders through the link."""

    what = "mini-program orders"

    def topic(self) -> str:
        return self.link.topics.mp_orders

    def parse(self, payload: object) -> MpOrderAlerts:
        return decode(MpOrderAlerts, payload)

    def kept(self, alerts: MpOrderAlerts) -> None:
        fresh = {a.id for a in alerts.items} - (
            {a.id for a in self.current.items} if self.current is not None else set())
        if fresh:
            log.info("%d new mini-program order(s) for the store", len(fresh))

    async def acknowledge(self, alert_id: int, by: str) -> JsonObject:
        """Staff acknowledged the order: resolved at the bridge, gone from this list.

        Raises:
            AckFailed: offline (nothing sent), no reply, or refused by the bridge.
        """
        params = MpOrderAckParams(alert_id=alert_id, by=by[:64] or "kiosk-tui").model_dump()
        if not self.link.connected.is_set():  # say so now rather than after the deadline
            raise AckFailed("offline", "离线，无法确认订单 / offline: cannot acknowledge")
        try:
            out = await self.link.request(wire_rpc.MP_ORDER_ACK, params, ACK_TIMEOUT_S)
        except LinkDown as err:
            raise AckFailed("offline", "离线，无法确认订单 / offline: cannot acknowledge") from err
        except (RpcTimeout, TimeoutError) as err:
            raise AckFailed("no_reply", "云端未回复，请重试 / no reply from the cloud; "
                                        "try again") from err
        except RpcFailed as err:
            raise AckFailed(err.code, err.message) from err
        if self.current is not None:
            items = [a for a in self.current.items if a.id != alert_id]
            self.current = self.current.model_copy(update={"items": items})
        return out
