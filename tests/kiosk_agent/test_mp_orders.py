"""The kiosk's board of new mini-program orders (kiosk_agent.mp_orders): which lists it
keeps, and an acknowledgement that is refused or cannot be sent. Through the broker, the
bridge and the TUI: tests/tui/test_tui_mp_orders.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from contract.wire.mp_orders import MpOrderAlertItem, MpOrderAlerts
from contract.wire.topics import KioskTopics
from kiosk_agent.link import RpcFailed, RpcTimeout
from kiosk_agent.mp_orders import AckFailed, MpOrderBoard

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


class FakeLink:
    """The link as the board uses it: its topics, connected, and one scripted request."""

    def __init__(self, *replies: object) -> None:
        self.topics = KioskTopics("s1", "k1")
        self.connected = asyncio.Event()
        self.connected.set()
        self.replies = list(replies)
        self.sent: list[tuple[str, dict]] = []

    async def request(self, method: str, params: dict, timeout: float) -> dict:  # noqa: ASYNC109
        self.sent.append((method, params))
        step = self.replies.pop(0)
        if isinstance(step, BaseException):
            raise step
        assert isinstance(step, dict)
        return step


def alerts(store: str = "s1", as_of: datetime = NOW, ids: tuple[int, ...] = (1, 2)):
    return MpOrderAlerts(store=store, as_of=as_of, items=[
        MpOrderAlertItem(id=i, order_no=f"MP{i}", fulfillment="pickup", total=500, since=as_of)
        for i in ids])


def test_keeps_the_newest_list_of_its_own_store_only():
    board = MpOrderBoard(FakeLink())
    assert board.view()["received_at"] is None
    assert board.accept(alerts())
    assert not board.accept(alerts(store="s2", as_of=NOW + timedelta(days=1)))
    assert not board.accept(alerts(as_of=NOW - timedelta(seconds=1), ids=(9,)))
    assert board.accept(alerts(ids=(2,)))        # same date: an acknowledgement elsewhere
    assert [i["order_no"] for i in board.view()["items"]] == ["MP2"]


async def test_acknowledged_orders_leave_the_list_refusals_leave_it_alone():
    link = FakeLink({"alert_id": 1, "order_no": "MP1", "resolved": True, "already": False},
                    RpcFailed("not_found", "no new mini-program order 2 in store s1"),
                    RpcTimeout("no reply"))
    board = MpOrderBoard(link)
    board.accept(alerts())
    assert (await board.acknowledge(1, "e5"))["resolved"] is True
    assert link.sent[0] == ("mp_order.ack", {"alert_id": 1, "by": "e5"})
    for code in ("not_found", "no_reply"):
        with pytest.raises(AckFailed) as err:
            await board.acknowledge(2, "kiosk-tui")
        assert err.value.code == code
    link.connected.clear()
    with pytest.raises(AckFailed) as err:
        await board.acknowledge(2, "kiosk-tui")
    assert err.value.code == "offline" and len(link.sent) == 3   # offline: nothing sent
    assert [i["id"] for i in board.view()["items"]] == [2]
