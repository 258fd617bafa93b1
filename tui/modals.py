"""Modal dialogs: the staff PIN prompt and the reason prompt for discarding."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from .client import AgentUnavailable, ControlClient, ControlError
from .i18n import t

MODAL_CSS = """
ModalScreen { align: center middle; }
#dialog { width: 50; height: auto; border: thick $accent; background: $surface; padding: 0 1; }
#dialog Label { width: 100%; }
#error { color: $error; }
"""


class PinScreen(ModalScreen[bool]):
    """Ask for the staff PIN and open a session; dismisses with True once unlocked."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel / 取消")]

    def __init__(self, client: ControlClient, lang: str) -> None:
        super().__init__()
        self.client = client
        self.lang = lang

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(t("pin_prompt", self.lang), id="prompt")
            yield Input(password=True, id="pin", max_length=32, placeholder="PIN")
            yield Label("", id="error")

    def on_mount(self) -> None:
        self.query_one("#pin", Input).focus()

    @on(Input.Submitted, "#pin")
    async def _submit(self, event: Input.Submitted) -> None:
        pin = event.value.strip()
        if not pin:
            return
        error = self.query_one("#error", Label)
        try:
            await self.client.login(pin)
        except ControlError as err:
            message = t("pin_wrong", self.lang) if err.code == "wrong_pin" else str(err)
            error.update(message)
            event.input.value = ""
            return
        except AgentUnavailable as err:
            error.update(str(err))
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class ReasonScreen(ModalScreen[str | None]):
    """Ask for a free-text reason (required); dismisses with the text or None."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel / 取消")]

    def __init__(self, prompt: str) -> None:
        super().__init__()
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.prompt)
            yield Input(id="reason", max_length=200)
            yield Label("", id="error")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    def _submit(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
