"""Chain-wide order and payment numbers, and the ids they are built from.

A kiosk id is unique only within its store (every store has a ``kiosk1``), while the
cloud and the payment providers need numbers unique across the chain. So every
number that leaves a kiosk names its store and kiosk::

    order_no       {store}-{kiosk}-{yyyymmdd}-{seq:04d}     e.g. store1-kiosk1-20261205-0042
    out_trade_no   {order_no}-{attempt}                     e.g. store1-kiosk1-20261205-0042-1

The out_trade_no must fit the strictest provider: WeChat Pay's ``out_trade_no`` is
6-32 characters of ``[0-9A-Za-z_-*|]`` (Alipay allows 64). Numbers are never
truncated (a truncated number is no longer unique); instead the ids are checked
where they enter (kiosk config, provisioning, the wire) so that every number fits:

* store and kiosk ids are ``[A-Za-z0-9_]`` (no ``-``: it separates the parts, and an
  id containing it would make ``a-b`` + ``c`` and ``a`` + ``b-c`` the same number);
* ``len(store) + len(kiosk) <= MAX_ID_CHARS`` (12): with 3 separators, the 8-digit
  day, a sequence of up to 5 digits (:data:`MAX_SEQ`) and ``-`` plus an attempt of up
  to 2 digits (:data:`MAX_ATTEMPT`), the longest out_trade_no is 31 characters.

Numbers written before this format (``{kiosk}-{yyyymmdd}-{seq}``, "legacy") stay as
they were sent on the kiosk and to the providers; the cloud stores such an order
under :func:`cloud_order_no`, the same number with the store in front, which is what
the new format would have called that sale (the kiosk's day sequence continues, so no
new number can repeat it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: WeChat Pay out_trade_no limits (the strictest provider); Alipay allows 64.
WECHAT_OUT_TRADE_NO_MAX = 32
ALIPAY_OUT_TRADE_NO_MAX = 64
OUT_TRADE_NO_MIN = 6
#: store and kiosk id characters together
MAX_ID_CHARS = 12
#: sales per kiosk and business day; a kiosk sells a few hundred a day
MAX_SEQ = 99_999
#: payment attempts per order (each failed code is one); a shopper gives up long before
MAX_ATTEMPT = 99

_ID_RE = re.compile(r"^[A-Za-z0-9_]+$")
_OUT_TRADE_RE = re.compile(r"^[0-9A-Za-z_\-*|]+$")
_NEW_RE = re.compile(
    r"^(?P<store>[A-Za-z0-9_]+)-(?P<kiosk>[A-Za-z0-9_]+)-(?P<day>\d{8})-(?P<seq>\d{4,5})$")
_TAIL_RE = re.compile(r"^(?P<day>\d{8})-(?P<seq>\d{4,})$")


class NumberError(ValueError):
    """An id or number that would not make (or is not) a valid chain-wide number."""


@dataclass(frozen=True, slots=True)
class OrderNumber:
    """The parts of an order number (``store`` is ``None`` for a legacy number)."""

    store: str | None
    kiosk: str
    day: str
    seq: int


def id_problem(store: str, kiosk: str) -> str | None:
    """Why ``store``/``kiosk`` cannot number sales chain-wide, or ``None`` when they can."""
    for name, value in (("store_id", store), ("kiosk_id", kiosk)):
        if not value or not _ID_RE.match(value):
            return f"{name} {value!r} must be letters, digits or _ (no '-')"
    if len(store) + len(kiosk) > MAX_ID_CHARS:
        return (f"store_id and kiosk_id together must be at most {MAX_ID_CHARS} characters "
                f"({store!r} + {kiosk!r} is {len(store) + len(kiosk)}) so that every "
                f"payment number fits WeChat Pay's {WECHAT_OUT_TRADE_NO_MAX}")
    return None


def check_ids(store: str, kiosk: str) -> None:
    """Raise :class:`NumberError` unless ``store``/``kiosk`` make numbers that fit."""
    problem = id_problem(store, kiosk)
    if problem is not None:
        raise NumberError(problem)


def make_order_no(store: str, kiosk: str, day: str, seq: int) -> str:
    """``{store}-{kiosk}-{day}-{seq:04d}``; raises NumberError rather than truncate."""
    check_ids(store, kiosk)
    if not re.fullmatch(r"\d{8}", day):
        raise NumberError(f"business day {day!r} must be yyyymmdd")
    if not 1 <= seq <= MAX_SEQ:
        raise NumberError(f"order sequence {seq} outside 1..{MAX_SEQ} for one day")
    return f"{store}-{kiosk}-{day}-{seq:04d}"


def make_out_trade_no(order_no: str, attempt: int) -> str:
    """``{order_no}-{attempt}``, checked against WeChat Pay's limits (never truncated)."""
    if not 1 <= attempt <= MAX_ATTEMPT:
        raise NumberError(f"payment attempt {attempt} outside 1..{MAX_ATTEMPT}")
    text = f"{order_no}-{attempt}"
    if not valid_out_trade_no(text):
        raise NumberError(f"out_trade_no {text!r} does not fit WeChat Pay "
                          f"({OUT_TRADE_NO_MIN}-{WECHAT_OUT_TRADE_NO_MAX} of [0-9A-Za-z_-*|])")
    return text


def valid_out_trade_no(text: str, limit: int = WECHAT_OUT_TRADE_NO_MAX) -> bool:
    """Whether ``text`` is an out_trade_no every provider accepts (length and characters)."""
    return OUT_TRADE_NO_MIN <= len(text) <= limit and bool(_OUT_TRADE_RE.match(text))


def parse_order_no(order_no: str, kiosk: str | None = None) -> OrderNumber:
    """The parts of a chain-wide or (given the kiosk) legacy order number.

    Raises:
        NumberError: not an order number of either format.
    """
    if kiosk is not None and order_no.startswith(kiosk + "-"):
        m = _TAIL_RE.match(order_no[len(kiosk) + 1:])
        if m is not None:
            return OrderNumber(None, kiosk, m["day"], int(m["seq"]))
    m = _NEW_RE.match(order_no)
    if m is not None:
        return OrderNumber(m["store"], m["kiosk"], m["day"], int(m["seq"]))
    raise NumberError(f"not an order number: {order_no!r}")


def cloud_order_no(store: str, kiosk: str, order_no: str) -> str:
    """The number the cloud keeps for ``order_no`` sent by ``store``/``kiosk``.

    * a chain-wide number of this kiosk: itself;
    * a legacy ``{kiosk}-{day}-{seq}`` of this kiosk: ``{store}-`` in front (unique
      chain-wide, and equal to what the new format names the same sale);
    * a chain-wide number of *another* store or kiosk: :class:`NumberError` (a hard
      conflict: no kiosk may sell or pay under another's number);
    * anything else (numbers from imports, the mini-program, tests): itself.
    """
    own = f"{store}-{kiosk}-"
    if order_no.startswith(own) and _TAIL_RE.match(order_no[len(own):]):
        return order_no
    if order_no.startswith(kiosk + "-") and _TAIL_RE.match(order_no[len(kiosk) + 1:]):
        return f"{store}-{order_no}"
    m = _NEW_RE.match(order_no)
    if m is not None and (m["store"], m["kiosk"]) != (store, kiosk):
        raise NumberError(f"order number {order_no} belongs to {m['store']}/{m['kiosk']}, "
                          f"not {store}/{kiosk}")
    return order_no
