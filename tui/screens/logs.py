"""Recent agent log lines, followed live; warnings-only toggle."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import RichLog

from ..client import json_number, json_objects
from .base import KioskScreen, bilingual


class LogsScreen(KioskScreen):
    title_key = "logs"
    BINDINGS = bilingual("w", "toggle_level", "warnings_only")

    def compose_body(self) -> ComposeResult:
        yield RichLog(id="log", max_lines=2000, wrap=True, markup=False, highlight=False)

    def __init__(self) -> None:
        super().__init__()
        self.after = 0
        self.warnings_only = False

    async def refresh_data(self) -> None:
        mode = self.warnings_only
        level = "WARNING" if mode else None
        reply = await self.kiosk.client.logs(after=self.after, limit=500, level=level)
        if mode != self.warnings_only:  # the filter changed while this read was out: stale
            return
        widget = self.query_one("#log", RichLog)
        styles = {"WARNING": "yellow", "ERROR": "bold red", "CRITICAL": "bold red", "DEBUG": "dim"}
        for line in json_objects(reply.get("lines", []), "log lines"):
            ts, level = json_number(line["ts"], "log time"), str(line["level"])
            stamp = datetime.fromtimestamp(ts, self.kiosk.store_zone).strftime("%H:%M:%S")
            widget.write(Text(
                f"{stamp} {level[:4]} {line['logger']}: {line['message']}",
                style=styles.get(level, ""),
            ))
        self.after = max(self.after, int(json_number(reply.get("last_seq", self.after),
                                                     "last_seq")))

    async def action_toggle_level(self) -> None:
        self.warnings_only = not self.warnings_only
        self.after = 0
        self.query_one("#log", RichLog).clear()
        await self.kiosk.refresh_now()
