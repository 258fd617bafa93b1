"""What every screen shares: the status bar and tab line, bilingual key bindings and
the small formatting helpers (ages, clock times, nested lookups, optional calls)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Static

from contract.money import format_minor

from ..client import ControlError, json_number, json_text
from ..i18n import t

if TYPE_CHECKING:
    from ..app import KioskTUI

DASH = "—"
T = TypeVar("T")


def bilingual(key: str, action: str, label: str, *args: str,
              show: bool = True) -> list[Binding | tuple[str, str] | tuple[str, str, str]]:
    """Two bindings for one key, one per language; ``check_action`` shows the current one.

    The action is ``bi('<lang>', '<action>', args...)`` which runs ``action_<action>``.
    """
    params = "".join(f", {a!r}" for a in args)
    return [
        Binding(key, f"bi('{lang}', {action!r}{params})", t(label, lang), show=show)
        for lang in ("zh", "en")
    ]


class BilingualActions:
    """Mixin: dispatch ``bi(lang, action, *args)`` and hide the other language's bindings."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "bi" and parameters:
            return parameters[0] == self.app.lang  # type: ignore[attr-defined]
        return True

    async def action_bi(self, lang: str, action: str, *args: str) -> None:
        method = getattr(self, f"action_{action}")
        result = method(*args)
        if result is not None and hasattr(result, "__await__"):
            await result


class StatusBar(Static):
    """Top line: kiosk, lock state and whether the agent answers."""


class TabLine(Static):
    """Second line: the screens and their number keys, the current one highlighted."""


class KioskScreen(BilingualActions, Screen[None]):
    """Base of every screen: status bar on top, footer with the bindings below."""

    title_key = ""

    @property
    def kiosk(self) -> KioskTUI:
        return self.app  # type: ignore[return-value]

    @property
    def lang(self) -> str:
        return self.kiosk.lang

    def clock(self, value: object) -> str:
        """A time from the agent as staff read it: in the store's time zone."""
        return _clock(value, getattr(self.kiosk, "store_zone", None))

    def compose(self) -> ComposeResult:
        yield StatusBar(id="statusbar")
        yield TabLine(id="tabline")
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        return iter(())

    def on_screen_resume(self) -> None:
        self.relabel()
        self.kiosk.schedule_refresh()

    def relabel(self) -> None:
        """Re-draw labels in the current language."""
        self.update_status_bar()

    def update_status_bar(self) -> None:
        try:
            self._update_status_bar()
        except NoMatches:  # screen being torn down at exit
            pass

    def _update_status_bar(self) -> None:
        app = self.kiosk
        bar = Text()
        bar.append(f" {t(self.title_key, self.lang)} ", style="bold reverse")
        bar.append(f"  {app.kiosk_name}  ")
        if app.client.unlocked:
            bar.append(f"[{t('unlocked', self.lang)}]", style="bold green")
        else:
            bar.append(f"[{t('locked', self.lang)}]", style="bold yellow")
        bar.append("  ")
        if app.agent_error:
            bar.append(f"{t('agent_down', self.lang)}: {app.agent_error}", style="bold red")
        else:
            bar.append(t("agent_ok", self.lang), style="green")
        if getattr(app, "new_mp_orders", 0) and self.title_key != "mp_orders":
            bar.append(f"  {t('mp_new_banner', self.lang)} {app.new_mp_orders} [8] ",
                       style="bold reverse magenta")
        self.query_one("#statusbar", StatusBar).update(bar)
        tabs = Text()
        # The app's modes are the screens, in the order of their number keys.
        for number, name in enumerate(app.MODES, start=1):
            style = "bold reverse" if name == self.title_key else ""
            tabs.append(f" {number} ", style="bold " + style)
            tabs.append(f"{t(name, self.lang)} ", style=style)
        self.query_one("#tabline", TabLine).update(tabs)

    async def refresh_data(self) -> None:
        """Fetch and show fresh data (raise :class:`ClientError` subclasses on failure)."""


def _get(data: object, *path: str, default: object = None) -> object:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def _age(value: object, lang: str) -> str:
    if value is None:
        return DASH
    seconds = int(json_number(value, "age"))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def _clock(value: object, zone: tzinfo | None = None) -> str:
    """HH:MM:SS from an epoch float, MM-DD HH:MM from ISO text, in ``zone`` (the store's
    time zone; the machine's only when the agent did not say)."""
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, zone).strftime("%H:%M:%S")
        if isinstance(value, str) and value:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:  # the agent writes UTC
                moment = moment.replace(tzinfo=UTC)
            return moment.astimezone(zone).strftime("%m-%d %H:%M")
    except (ValueError, OSError, OverflowError):
        pass
    return DASH if value in (None, "") else str(value)


def money(amount: object, currency: object) -> str:
    """An amount in fen from a reply, with its currency, as staff read it."""
    return format_minor(int(json_number(amount, "amount")), json_text(currency, "currency"))


def store_zone(name: str | None) -> tzinfo | None:
    """The store's IANA time zone (``status.timezone``); None when unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


async def _optional(call: Awaitable[T]) -> T | None:
    """The result of ``call``, or None when the agent does not support it (501)."""
    try:
        return await call
    except ControlError as err:
        if err.status == 501:
            return None
        raise
