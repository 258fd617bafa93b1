"""Suggested articles while a shopper types (filled in by the knowledge-base step)."""

from __future__ import annotations

from typing import Any


def suggest_for_chat(app: Any):
    """A ``suggest(store, text)`` coroutine for the chat socket, or ``None``."""
    return None
