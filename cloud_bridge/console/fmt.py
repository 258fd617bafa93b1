"""How the console writes amounts and times: ¥ from integer fen, the store's own zone."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import overload
from zoneinfo import ZoneInfo

SYMBOLS = {"CNY": "¥"}


def money(fen: int | None, currency: str = "CNY") -> str:
    """``1234`` -> ``¥12.34``; integer arithmetic only (money never becomes a float)."""
    if fen is None:
        return "—"
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    symbol = SYMBOLS.get(currency)
    body = f"{yuan:,}.{cents:02d}"
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{currency} {body}"


def yuan_input(fen: int) -> str:
    """Fen as the plain decimal a form field shows (``1234`` -> ``12.34``)."""
    yuan, cents = divmod(int(fen), 100)
    return f"{yuan}.{cents:02d}"


def parse_yuan(text: str) -> int | None:
    """A typed amount in yuan (``12``, ``12.3``, ``12.34``) to fen; ``None`` if not one."""
    text = (text or "").strip().replace(",", "").lstrip("¥￥")
    whole, dot, frac = text.partition(".")
    if not whole.isdigit() or (dot and not (frac.isdigit() and len(frac) <= 2)) or len(whole) > 10:
        return None
    return int(whole) * 100 + int((frac or "0").ljust(2, "0"))


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@overload
def local(at: datetime | str, tz: str) -> datetime: ...
@overload
def local(at: None, tz: str) -> None: ...
def local(at: datetime | str | None, tz: str) -> datetime | None:
    if at is None:
        return None
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.astimezone(zone(tz))


def when(at: datetime | str | None, tz: str, seconds: bool = False) -> str:
    """A UTC time as the store's wall clock: ``2026-03-01 12:00`` (+ seconds)."""
    loc = local(at, tz)
    if loc is None:
        return "—"
    return loc.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def duration(seconds: float | None, lang: str) -> str:
    """``3725`` -> ``1h 2m`` / ``1小时2分``."""
    if seconds is None:
        return "—"
    s = int(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if lang == "zh":
        return (f"{h}小时" if h else "") + (f"{m}分" if m or h else "") + ("" if h else f"{sec}秒")
    return (f"{h}h " if h else "") + (f"{m}m " if m or h else "") + ("" if h else f"{sec}s")
