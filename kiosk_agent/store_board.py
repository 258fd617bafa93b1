"""A store's retained list as the bridge last announced it (stock alerts, new mini-program
orders): the broker hands the retained message to the kiosk on every connect; the board
keeps the newest one of this kiosk's store for the control API and the staff TUI.

Nothing is stored on disk: while the kiosk has not heard from the bridge, the TUI says so
rather than showing an old list as current.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import ClassVar, Generic, Protocol, Self, TypeVar

import aiomqtt

from common.jsontypes import JsonObject
from contract.wire.base import WireError, utcnow

from .link import Link

log = logging.getLogger(__name__)


class StoreList(Protocol):
    """A store's retained list on the wire: whose it is and as of when."""

    @property
    def store(self) -> str: ...

    @property
    def as_of(self) -> datetime: ...

    def model_dump(self, *, mode: str = ..., exclude: set[str] | None = ...) -> JsonObject: ...


ListT = TypeVar("ListT", bound=StoreList)


class StoreBoard(Generic[ListT]):
    """Keeps the newest list of this kiosk's store on the subclass's topic."""

    #: what the list is called in log lines
    what: ClassVar[str]

    def __init__(self, link: Link) -> None:
        self.link = link
        self.current: ListT | None = None
        self.received_at: datetime | None = None

    def topic(self) -> str:
        raise NotImplementedError

    def parse(self, payload: object) -> ListT:
        """The list in a message's payload (``decode`` with the wire model); WireError if not."""
        raise NotImplementedError

    def attach(self) -> Self:
        self.link.add_handler(self.topic(), self._on_message)
        return self

    async def _on_message(self, message: aiomqtt.Message) -> None:
        if not message.payload:
            return  # the retained list was cleared
        try:
            alerts = self.parse(message.payload)
        except WireError as err:
            log.warning("dropped malformed %s: %s", self.what, err.reason)
            return
        self.accept(alerts)

    def accept(self, alerts: ListT) -> bool:
        """Keep ``alerts`` unless it is another store's or older than the one kept."""
        if alerts.store != self.link.topics.store:
            log.warning("dropped %s of store %s", self.what, alerts.store)
            return False
        if self.current is not None and alerts.as_of < self.current.as_of:
            return False
        self.kept(alerts)
        self.current, self.received_at = alerts, utcnow()
        return True

    def kept(self, alerts: ListT) -> None:
        """Called with a list about to replace the current one (before it does)."""

    def view(self) -> JsonObject:
        """What the control API returns: the list, or ``received_at`` None before any."""
        if self.current is None:
            return {"store": self.link.topics.store, "received_at": None, "as_of": None,
                    "items": [], "more": 0}
        body = self.current.model_dump(mode="json", exclude={"v"})
        return {**body, "received_at": self.received_at.isoformat() if self.received_at
                else None}
