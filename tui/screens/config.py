"""The effective config, each value with where it came from."""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable

from common.jsontypes import JsonObject

from ..i18n import t
from .base import KioskScreen


class ConfigScreen(KioskScreen):
    title_key = "config"

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="config-table", cursor_type="row", zebra_stripes=True)

    def __init__(self) -> None:
        super().__init__()
        self.values: list[JsonObject] = []

    def relabel(self) -> None:
        super().relabel()
        table = self.query_one("#config-table", DataTable)
        table.clear(columns=True)
        for key, width in (("key", 32), ("value", 30), ("source", 10)):
            table.add_column(t(key, self.lang), key=key, width=width)
        self._fill()

    def _fill(self) -> None:
        table = self.query_one("#config-table", DataTable)
        if not table.columns:
            return
        table.clear()
        styles = {"default": "dim", "file": "", "shadow": "cyan", "env": "magenta", "credential": "yellow"}
        for row in self.values:
            value = row.get("value")
            shown = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
            source = str(row.get("source", ""))
            key = row.get("key")
            table.add_row(row.get("key", ""), shown, Text(source, style=styles.get(source, "")),
                          key=key if isinstance(key, str) else None)

    async def refresh_data(self) -> None:
        values = await self.kiosk.client.config()
        if values != self.values:
            self.values = values
            self._fill()
