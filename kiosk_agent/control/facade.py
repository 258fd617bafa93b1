"""What the control API asks of the agent, and the objects that answer it.

:class:`AgentControl` is a protocol of small async methods, every one optional (a
missing one answers ``501``). :class:`AgentFacade` merges several providers:
:class:`AgentControlAdapter` over a running agent and :class:`JournalControl` over
its journal.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from common.jsontypes import JsonMapping, JsonObject

from .errors import ControlApiError

if TYPE_CHECKING:
    from contract.wire.events import OrderCompletedData
    from kiosk_agent.agent import Agent, Component
    from kiosk_agent.journal import Journal
    from kiosk_agent.journal.outbox import DeadLetter, OutboxStats


async def resolve(value: object) -> object:
    """``value``, awaited first when it is a coroutine or future (methods may be sync)."""
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value


@runtime_checkable
class AgentControl(Protocol):
    """What the control API needs from the agent. Every method is optional.

    Return plain JSON-able values, dataclasses or pydantic models; the API
    converts them. Methods may be sync or async.
    """

    async def status(self) -> JsonMapping:
        """``{"state", "maintenance", "link": {"connected", ...}, "last_scans": [...], ...}``."""

    async def health(self) -> Mapping[str, JsonMapping]:
        """Per device: ``{"printer": {"state": "ok", "paper": "ok"}, "camera": {...}}``."""

    async def sales_today(self) -> JsonMapping:
        """``{"orders": int, "total": fen, "currency": "CNY"}``."""

    async def find_orders(self, query: str, limit: int) -> Sequence[object]: ...

    async def order_detail(self, order_no: str) -> object | None: ...

    async def outbox_stats(self) -> object: ...

    async def dead_letters(self) -> Sequence[object]: ...

    async def retry_dead_letter(self, event_id: str) -> bool: ...

    async def discard_dead_letter(self, event_id: str, reason: str) -> bool: ...

    async def print_test_page(self) -> object: ...

    async def reprint(self, order_no: str) -> object:
        """Queue a reprint; return falsy (or raise KeyError) when the order is unknown."""

    async def set_maintenance(self, on: bool, reason: str) -> object: ...

    async def display_test(self) -> object: ...

    async def camera_snapshot(self) -> bytes | None:
        """One frame encoded as PNG or JPEG, or ``None`` when there is no camera."""

    async def decode_check(self) -> object: ...

    def effective_config(self) -> Sequence[JsonMapping]:
        """``[{"key", "value", "source"}]``; see :func:`describe_config`."""


class AgentFacade:
    """One object answering every :class:`AgentControl` method from several providers.

    Each attribute is looked up on the providers in order; the first that has it wins.
    ``AgentFacade(agent, JournalControl(agent.journal))`` lets the agent answer what it
    knows and the journal the rest.
    """

    def __init__(self, *providers: object) -> None:
        self._providers = providers

    def __getattr__(self, name: str) -> Callable[..., object]:
        if name.startswith("_"):
            raise AttributeError(name)
        for provider in self._providers:
            value = getattr(provider, name, None)
            if callable(value):
                return value
        raise AttributeError(name)


class JournalControl:
    """The journal-backed part of :class:`AgentControl` (outbox, dead letters, print jobs).

    Order search and today's sales are read-only queries on the journal's thread.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def outbox_stats(self) -> OutboxStats:
        return await self.journal.outbox_stats()

    async def dead_letters(self) -> list[DeadLetter]:
        return await self.journal.dead_letters()

    async def retry_dead_letter(self, event_id: str) -> bool:
        return await self.journal.retry_dead_letter(event_id)

    async def discard_dead_letter(self, event_id: str, reason: str) -> bool:
        return await self.journal.discard_dead_letter(event_id, reason)

    async def print_test_page(self) -> dict[str, int]:
        return {"job_id": await self.journal.add_print_job(None, "test")}

    async def reprint(self, order_no: str) -> dict[str, int] | None:
        if await self.journal.order_receipt(order_no) is None:
            return None
        return {"job_id": await self.journal.add_print_job(order_no, "reprint")}

    async def order_detail(self, order_no: str) -> OrderCompletedData | None:
        return await self.journal.order_receipt(order_no)

    async def find_orders(self, query: str, limit: int) -> list[JsonObject]:
        """Newest orders whose number, member, product name or barcode contains ``query``."""
        like = f"%{query}%"

        def q(conn: sqlite3.Connection) -> list[JsonObject]:
            rows = conn.execute(
                "SELECT order_no, completed_at, total, currency, member_id, offline,"
                " (SELECT count(*) FROM order_lines l WHERE l.order_no = o.order_no)"
                " FROM orders o WHERE ? = '' OR order_no LIKE ? OR member_id LIKE ?"
                " OR EXISTS (SELECT 1 FROM order_lines l WHERE l.order_no = o.order_no"
                "   AND (l.name_zh LIKE ? OR l.barcode LIKE ? OR l.product_id LIKE ?))"
                " ORDER BY committed_at DESC LIMIT ?",
                (query, like, like, like, like, like, limit),
            ).fetchall()
            return [
                {
                    "order_no": r[0], "completed_at": r[1], "total": r[2], "currency": r[3],
                    "member_id": r[4], "offline": bool(r[5]), "lines": r[6],
                }
                for r in rows
            ]

        return await self.journal.read(q)

    async def sales_today(self) -> JsonObject:
        """Orders and takings of the current business day."""
        day = self.journal.business_day()

        def q(conn: sqlite3.Connection) -> JsonObject:
            count, total, offline = conn.execute(
                "SELECT count(*), coalesce(sum(total), 0), coalesce(sum(offline), 0)"
                " FROM orders WHERE business_day = ?",
                (day,),
            ).fetchone()
            row = conn.execute(
                "SELECT currency FROM orders WHERE business_day = ? LIMIT 1", (day,)
            ).fetchone()
            return {
                "business_day": day, "orders": count, "total": total,
                "currency": row[0] if row else "CNY", "offline_orders": offline,
            }

        return await self.journal.read(q)


class AgentControlAdapter:
    """The :class:`AgentControl` methods derived from a running :class:`~kiosk_agent.agent.Agent`.

    Status comes from the checkout; health from every registered component that has a
    ``health()`` method (the print spooler, the camera, the link, ...); device checks
    from the first component offering the method (``snapshot``/``camera_snapshot``,
    ``display_test``, ``decode_check``). Journal queries are answered by
    :class:`JournalControl` (combine both with :class:`AgentFacade`).
    """

    def __init__(self, agent: Agent, config_path: Path | str | None = None) -> None:
        self.agent = agent
        self.config_path = config_path
        self.started_at = time.time()

    def _components(self) -> list[tuple[str, Component]]:
        return self.agent.components()

    def running_agent(self) -> Agent:
        """The agent itself, for routes that drive its checkout (control/cart.py)."""
        return self.agent

    def _component_method(self, *names: str) -> Callable[[], object] | None:
        for _, component in self._components():
            for name in names:
                method = getattr(component, name, None)
                if callable(method):
                    return method
        return None

    async def status(self) -> JsonObject:
        cfg = self.agent.config
        checkout = self.agent.checkout
        state = str(checkout.state) if checkout is not None else "starting"
        link = self.agent.runtime.link or self._component_attr("connected")
        link_info: JsonObject = {"connected": None}
        connected = getattr(link, "connected", None)
        if isinstance(connected, asyncio.Event):
            link_info["connected"] = connected.is_set()
        elif isinstance(connected, bool):
            link_info["connected"] = connected
        if not cfg.mqtt.enabled:
            link_info["disabled"] = True
        snapshot: JsonObject | None = None
        if checkout is not None:
            snap = checkout.snapshot()
            snapshot = {"lines": len(snap.lines), "total": snap.total,
                        "currency": snap.currency, "order_no": snap.order_no}
        from common.version import __version__

        from ..staff_calls import staff_calls

        return {
            "store_id": cfg.kiosk.store_id,
            "kiosk_id": cfg.kiosk.kiosk_id,
            "timezone": cfg.kiosk.timezone,  # staff see every time in the store's zone
            "version": __version__,
            "started_at": self.started_at,
            "state": state,
            "maintenance": state == "maintenance",
            "healthy": self.agent.tasks_healthy(),
            "link": link_info,
            "cart": snapshot,
            "last_scans": self.agent.runtime.last_scans[-10:],
            "staff_call": staff_calls(self.agent).view(),  # 呼叫店员, shown until answered
        }

    def _component_attr(self, attr: str) -> Component | None:
        for _, component in self._components():
            if hasattr(component, attr):
                return component
        return None

    async def health(self) -> JsonObject:
        report: JsonObject = {}
        for name, component in self._components():
            method = getattr(component, "health", None)
            if not callable(method):
                continue
            try:
                value = await resolve(method())
            except Exception as err:
                value = {"state": "error", "reason": f"health check failed: {err}"}
            report[name] = value
        report.setdefault("agent", {"state": "ok" if self.agent.tasks_healthy() else "error"})
        report.setdefault("journal", self.agent.journal.write_health())  # disk full, I/O
        return report

    async def set_maintenance(self, on: bool, reason: str) -> dict[str, str]:
        checkout = self.agent.checkout
        if checkout is None:
            raise ValueError("the checkout is not running yet")
        try:
            checkout.maintenance_on() if on else checkout.maintenance_off()
        except Exception as err:  # Refusal: not allowed in this state (e.g. paying)
            message = getattr(err, "en", None) or str(err)
            raise ValueError(f"maintenance {'on' if on else 'off'} refused: {message}") from err
        return {"state": str(checkout.state)}

    async def print_test_page(self) -> dict[str, int]:
        return await JournalControl(self.agent.journal).print_test_page()

    async def camera_snapshot(self) -> bytes | None:
        image = await self._call_component(
            ("camera_snapshot", "snapshot"), "no camera component offers a snapshot"
        )
        if image is not None and not isinstance(image, bytes):
            raise TypeError(f"a camera snapshot is bytes, not {type(image).__name__}")
        return image

    async def display_test(self) -> object:
        return await self._call_component(("display_test",), "no display component offers a test")

    async def decode_check(self) -> object:
        return await self._call_component(
            ("decode_check",), "no camera component offers a decode check"
        )

    async def _call_component(self, names: tuple[str, ...], missing: str) -> object:
        """Call the first component method among ``names``; 501 saying ``missing`` if none."""
        method = self._component_method(*names)
        if method is None:
            raise ControlApiError(501, "not_supported", missing)
        return await resolve(method())
