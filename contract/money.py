"""Money as integer minor units (fen) plus an ISO 4217 currency code.

Floats never hold money anywhere in the system. Amounts cross the wire as
``{"amount": 1234, "currency": "CNY"}`` and are added only when the currencies
match.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_CURRENCY = "CNY"

# Minor units per major unit for the currencies a kiosk can see. Everything we
# sell in today has two decimals; JPY and KRW are listed because PayPal
# cross-border sales may settle in them.
MINOR_UNITS = {"CNY": 2, "HKD": 2, "USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KRW": 0, "SGD": 2}


class MoneyError(ValueError):
    """Raised on a currency mismatch or a malformed amount."""


class Money(BaseModel):
    """An amount in minor units of one currency."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    amount: int = Field(description="integer minor units (fen for CNY)")
    currency: str = DEFAULT_CURRENCY

    @field_validator("currency")
    @classmethod
    def _iso(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha() or not value.isupper():
            raise ValueError("currency must be a 3-letter upper-case ISO 4217 code")
        return value

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"currency mismatch: {self.currency} vs {other.currency}")

    def format(self) -> str:
        """Human text such as ``¥12.30`` for receipts and displays."""
        return format_minor(self.amount, self.currency)


def format_minor(amount: int, currency: str = DEFAULT_CURRENCY) -> str:
    """Format integer minor units for people: ``1230, 'CNY'`` -> ``'¥12.30'``."""
    digits = MINOR_UNITS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**digits) if digits else (abs(amount), 0)
    symbol = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}.get(
        currency, currency + " "
    )
    if digits == 0:
        return f"{sign}{symbol}{whole}"
    return f"{sign}{symbol}{whole}.{frac:0{digits}d}"


def major_text(amount: int, currency: str = DEFAULT_CURRENCY) -> str:
    """Minor units as the plain decimal text gateways and bills use, without floats.

    ``major_text(1230) == "12.30"``, ``major_text(1010, "USD") == "10.10"``,
    ``major_text(500, "JPY") == "500"``.
    """
    digits = MINOR_UNITS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    if digits == 0:
        return f"{sign}{abs(amount)}"
    whole, frac = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}"


def parse_major(text: str, currency: str = DEFAULT_CURRENCY) -> int:
    """Parse decimal text in major units (``"12.3"`` yuan) into minor units, exactly.

    Outside input (gateway responses, bills, notifications) goes through here, so
    anything that is not plain ASCII ``[-]digits[.digits]`` with at most the
    currency's decimals raises :class:`MoneyError`: never a silent truncation.
    """
    if not isinstance(text, str):
        raise MoneyError(f"not an amount: {type(text).__name__}")
    digits = MINOR_UNITS.get(currency, 2)
    body = text.strip()
    negative = body.startswith("-")
    if negative:
        body = body[1:]
    whole, dot, frac = body.partition(".")
    if not (whole or frac) or not _ascii_digits(whole or "0") or (
            dot and not _ascii_digits(frac)):
        raise MoneyError(f"not an amount: {text[:40]!r}")
    if len(frac) > digits:
        raise MoneyError(f"more than {digits} decimals for {currency}: {text[:40]!r}")
    minor: int = int(whole or "0") * 10**digits + int((frac + "0" * digits)[:digits] or "0")
    return -minor if negative else minor


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_yuan(text: str) -> int:
    """Parse a decimal yuan string such as ``"12.3"`` into fen without floats."""
    return parse_major(text, "CNY")
