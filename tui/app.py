"""``kiosk-tui``: the staff maintenance app for a kiosk (Textual).

It talks to the agent's local control API on its Unix socket. Reading needs
nothing; every action that changes state (reprint, retry or discard a dead
letter, test page, maintenance) first asks for the staff PIN, and the session
locks again after the agent's idle time. Keys are shown in the footer; ``l``
switches Chinese / English. Runs at 80x24 on the Pi's console (tty1) or over SSH.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Awaitable, Callable
from datetime import tzinfo
from typing import ClassVar

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen

from .client import DEFAULT_SOCKET, AgentUnavailable, ControlClient, ControlError, json_number
from .i18n import LANGS, t
from .modals import PinScreen
from .screens import SCREENS, BilingualActions, KioskScreen, bilingual
from .screens.base import store_zone
from .screens.mp_orders import new_orders

#: Screen refresh period: fresh enough to watch a sale land, light on a Pi.
REFRESH_S = 1.5
#: How often the app checks its own idle timer (the agent enforces it too).
IDLE_CHECK_S = 1.0
#: Idle lock used until the agent tells its own (config.control.idle_lock_s).
DEFAULT_IDLE_LOCK_S = 120.0

Action = Callable[[], Awaitable[str | None]]


class KioskTUI(BilingualActions, App[None]):
    """The staff app. ``socket_path`` is the agent's control socket."""

    TITLE = "kiosk-tui"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    StatusBar { height: 1; background: $boost; }
    TabLine { height: 1; }
    #order-search { height: 3; }
    #orders-table { height: 1fr; }
    #order-detail-box { height: 8; border-top: solid $accent; }
    #queue-stats { height: 1; }
    #dead-letters { height: 1fr; }
    #stock-summary { height: 1; }
    #stock-alerts { height: 1fr; }
    #mp-summary { height: 1; }
    #mp-orders { height: 1fr; }
    #letter-detail-box { height: 9; border-top: solid $accent; }
    """
    MODES: ClassVar[dict[str, str | Callable[[], Screen[None]]]] = dict(SCREENS)
    BINDINGS: ClassVar[list[BindingType]] = [
        *bilingual("1", "goto", "dashboard", "dashboard", show=False),
        *bilingual("2", "goto", "orders", "orders", show=False),
        *bilingual("3", "goto", "queue", "queue", show=False),
        *bilingual("4", "goto", "devices", "devices", show=False),
        *bilingual("5", "goto", "config", "config", show=False),
        *bilingual("6", "goto", "logs", "logs", show=False),
        *bilingual("7", "goto", "stock", "stock", show=False),
        *bilingual("8", "goto", "mp_orders", "mp_orders", show=False),
        *bilingual("l", "toggle_lang", "lang"),
        *bilingual("p", "pin", "pin"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        socket_path: str = DEFAULT_SOCKET,
        *,
        lang: str = "zh",
        refresh_s: float = REFRESH_S,
        idle_lock_s: float | None = None,
    ) -> None:
        super().__init__()
        self.client = ControlClient(socket_path)
        self.lang = lang if lang in LANGS else "zh"
        self.refresh_s = refresh_s
        self.idle_lock_s = idle_lock_s
        self.agent_error: str | None = None
        self.kiosk_name = ""
        self.store_zone: tzinfo | None = None  # times are shown in the store's zone
        self.last_input = time.monotonic()
        self._refreshing = False
        # The store's new mini-program orders not yet acknowledged: the status bar of every
        # screen says so until staff acknowledge them (screen 8).
        self.new_mp_orders = 0

    # ---------------------------------------------------------------- lifecycle

    async def on_mount(self) -> None:
        await self.switch_mode("dashboard")
        self.set_interval(self.refresh_s, self.schedule_refresh)
        self.set_interval(IDLE_CHECK_S, self._check_idle)

    async def on_unmount(self) -> None:
        await self.client.close()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown):
            self.last_input = time.monotonic()
        await super().on_event(event)

    # ---------------------------------------------------------------- refresh

    def schedule_refresh(self) -> None:
        if not self._refreshing:
            self.run_worker(self.refresh_now(), group="refresh", exit_on_error=False)

    async def refresh_now(self) -> None:
        """Fetch the current screen's data now; agent trouble goes to the status bar."""
        screen = self.screen
        if not isinstance(screen, KioskScreen) or self._refreshing:
            return
        self._refreshing = True
        try:
            if not self.kiosk_name:
                await self._learn_kiosk()
            await screen.refresh_data()
            await self._count_mp_orders(screen)
            self.agent_error = None
        except AgentUnavailable as err:
            self.agent_error = str(err)
        except ControlError as err:
            self.agent_error = None
            self.notify(str(err), severity="error", timeout=4)
        except NoMatches:
            pass  # the screen is being composed or torn down; the next tick catches up
        finally:
            self._refreshing = False
            if screen.is_mounted:
                screen.update_status_bar()

    async def _count_mp_orders(self, screen: KioskScreen) -> None:
        """New mini-program orders for the status bar (the orders screen counts its own)."""
        if screen.title_key == "mp_orders":
            return
        try:
            reply = await self.client.mp_orders()
        except ControlError:  # an older agent without the route: no banner
            self.new_mp_orders = 0
            return
        self.new_mp_orders = new_orders(reply)

    async def _learn_kiosk(self) -> None:
        status = await self.client.status()
        if isinstance(status, dict):
            store, kiosk = status.get("store_id"), status.get("kiosk_id")
            self.kiosk_name = f"{store}/{kiosk}" if store and kiosk else str(kiosk or "kiosk")
            zone = status.get("timezone")
            self.store_zone = store_zone(zone if isinstance(zone, str) else None)
        session = await self.client.session()
        if self.idle_lock_s is None and session.get("idle_lock_s"):
            self.idle_lock_s = float(json_number(session["idle_lock_s"], "idle_lock_s"))

    def _check_idle(self) -> None:
        limit = self.idle_lock_s or DEFAULT_IDLE_LOCK_S
        if self.client.unlocked and time.monotonic() - self.last_input > limit:
            self.run_worker(self._lock(t("relocked", self.lang)), group="lock")

    async def _lock(self, message: str) -> None:
        try:
            await self.client.logout()
        except (AgentUnavailable, ControlError):
            self.client.token = None
        self.notify(message)
        if isinstance(self.screen, KioskScreen):
            self.screen.update_status_bar()

    # ---------------------------------------------------------------- guarded actions

    def guarded(self, action: Action) -> None:
        """Run a state-changing ``action``, asking for the staff PIN first when locked."""
        if self.client.unlocked:
            self.run_worker(self._perform(action), group="action")
        else:
            self._ask_pin(lambda: self.run_worker(self._perform(action, retry=False), group="action"))

    def _ask_pin(self, then: Callable[[], object] | None = None) -> None:
        def done(ok: bool | None) -> None:
            if isinstance(self.screen, KioskScreen):
                self.screen.update_status_bar()
            if ok:
                self.last_input = time.monotonic()
                self.notify(t("pin_ok", self.lang))
                if then is not None:
                    then()

        self.push_screen(PinScreen(self.client, self.lang), done)

    async def _perform(self, action: Action, retry: bool = True) -> None:
        try:
            message = await action()
            if message:
                self.notify(message)
        except ControlError as err:
            if err.locked and retry:
                # The agent locked the session (idle on its clock): PIN, then try again.
                self._ask_pin(lambda: self.run_worker(self._perform(action, retry=False)))
            elif err.status == 501:
                self.notify(f"{t('not_supported', self.lang)}: {err}", severity="warning")
            else:
                self.notify(str(err), severity="error")
        except AgentUnavailable as err:
            self.agent_error = str(err)
            self.notify(str(err), severity="error")
        except NoMatches:
            pass  # the screen went away while the action ran
        await self.refresh_now()

    # ---------------------------------------------------------------- key actions

    async def action_goto(self, mode: str) -> None:
        if mode != self.current_mode:
            await self.switch_mode(mode)

    def action_toggle_lang(self) -> None:
        self.lang = "en" if self.lang == "zh" else "zh"
        if isinstance(self.screen, KioskScreen):
            self.screen.relabel()
        self.screen.refresh_bindings()

    def action_pin(self) -> None:
        if self.client.unlocked:
            self.run_worker(self._lock(t("locked_now", self.lang)), group="lock")
        else:
            self._ask_pin()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-tui", description="Kiosk staff maintenance app")
    parser.add_argument(
        "--socket",
        default=os.environ.get("KIOSK_CONTROL_SOCKET", DEFAULT_SOCKET),
        help=f"the agent's control socket (default: $KIOSK_CONTROL_SOCKET or {DEFAULT_SOCKET})",
    )
    parser.add_argument("--lang", choices=LANGS, default="zh", help="start in this language")
    parser.add_argument("--refresh", type=float, default=REFRESH_S, help="refresh period, seconds")
    args = parser.parse_args(argv)
    KioskTUI(args.socket, lang=args.lang, refresh_s=max(0.2, args.refresh)).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
