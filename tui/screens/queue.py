"""The outbox queue: depth, oldest unsent event, dead letters to retry or discard."""

from __future__ import annotations

import json
from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from common.jsontypes import JsonObject

from ..client import json_object, json_objects, json_text
from ..i18n import t
from ..modals import ReasonScreen
from .base import DASH, KioskScreen, _age, bilingual


class QueueScreen(KioskScreen):
    title_key = "queue"
    AUTO_FOCUS = "#dead-letters"
    BINDINGS: ClassVar[list[BindingType]] = [
        *bilingual("r", "retry", "retry"),
        *bilingual("x", "discard", "discard"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static(id="queue-stats")
        yield DataTable(id="dead-letters", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="letter-detail-box"):
            yield Static(id="letter-detail")

    def __init__(self) -> None:
        super().__init__()
        self.letters: list[JsonObject] = []
        self.stats: JsonObject = {}

    def relabel(self) -> None:
        super().relabel()
        table = self.query_one("#dead-letters", DataTable)
        table.clear(columns=True)
        for key, width in (("event", 10), ("type", 16), ("reason", 30), ("failed_at", 10)):
            table.add_column(t(key, self.lang), key=key, width=width)
        self._fill()

    def _fill(self) -> None:
        lang = self.lang
        self.query_one("#queue-stats", Static).update(
            f"{t('queue_depth', lang)}: {self.stats.get('depth', DASH)}   "
            f"{t('oldest_unsent', lang)}: {_age(self.stats.get('oldest_age_s'), lang)}   "
            f"{t('dead_letters', lang)}: {self.stats.get('dead_letters', DASH)}"
        )
        table = self.query_one("#dead-letters", DataTable)
        if not table.columns:
            return
        keep = self.selected_id()
        table.clear()
        for letter in self.letters:
            event_id = json_text(letter["event_id"], "dead letter id")
            table.add_row(
                event_id[-8:], letter.get("type", ""), letter.get("reason", ""),
                self.clock(letter.get("failed_at")), key=event_id,
            )
        ids = [letter["event_id"] for letter in self.letters]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        self._show_detail()
        if not self.letters:
            self.query_one("#letter-detail", Static).update(t("no_dead_letters", lang))

    def selected_id(self) -> str | None:
        table = self.query_one("#dead-letters", DataTable)
        if not self.letters or table.row_count == 0:
            return None
        try:
            row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        except Exception:
            return None
        return row_key.value

    def _show_detail(self) -> None:
        event_id = self.selected_id()
        letter = next((x for x in self.letters if x["event_id"] == event_id), None)
        if letter is None:
            return
        payload = letter.get("payload")
        try:
            pretty = json.dumps(json.loads(str(payload)), ensure_ascii=False, indent=1)
        except (TypeError, ValueError):
            pretty = str(payload)
        self.query_one("#letter-detail", Static).update(
            Group(
                Text(f"{letter['event_id']}  seq {letter.get('seq')}  {letter.get('type')}", style="bold"),
                Text(f"{t('reason', self.lang)}: {letter.get('reason')}", style="yellow"),
                Text(pretty[:4000]),
            )
        )

    @on(DataTable.RowHighlighted, "#dead-letters")
    def _highlight(self) -> None:
        self._show_detail()

    async def refresh_data(self) -> None:
        outbox = await self.kiosk.client.outbox()
        stats = json_object(outbox.get("stats") or {}, "outbox stats")
        letters = json_objects(outbox.get("dead_letters") or [], "dead letters")
        if (stats, letters) != (self.stats, self.letters):
            self.stats, self.letters = stats, letters
            self._fill()

    def action_retry(self) -> None:
        event_id = self.selected_id()
        if not event_id:
            self.notify(t("no_letter_selected", self.lang), severity="warning")
            return

        async def act() -> str:
            await self.kiosk.client.retry_dead_letter(event_id)
            return f"{event_id[-8:]}: {t('retried', self.lang)}"

        self.kiosk.guarded(act)

    def action_discard(self) -> None:
        event_id = self.selected_id()
        if not event_id:
            self.notify(t("no_letter_selected", self.lang), severity="warning")
            return

        def got_reason(reason: str | None) -> None:
            if not reason:
                return

            async def act() -> str:
                await self.kiosk.client.discard_dead_letter(event_id, reason)
                return f"{event_id[-8:]}: {t('discarded', self.lang)}"

            self.kiosk.guarded(act)

        self.app.push_screen(ReasonScreen(t("discard_reason", self.lang)), got_reason)
