"""One interface for every payment provider.

Each call returns a plain outcome instead of raising for business results, so that
the settlement code reads like the rules it implements: *paid*, *failed* (nothing was
taken, the shopper may pay again), *unknown* (money may have moved: settle it by
query, then reverse), *pending* (the payer is still confirming), *not_found*,
*reversed*. Transport problems (timeouts, 5xx, responses that do not verify) are
always *unknown*, never *failed*.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import aiohttp

log = logging.getLogger(__name__)

# Per-request HTTP deadline towards a gateway. Real providers answer code payments
# in < 5 s except when the payer must confirm (then USERPAYING comes back at once).
REQUEST_TIMEOUT_S = 10.0
# Notifications and responses older than this (or from the future) are refused.
MAX_MESSAGE_AGE_S = 300
# Recently seen response nonces kept in memory to refuse replayed responses.
SEEN_NONCES = 4096

ChargeStatus = Literal["paid", "failed", "unknown"]
QueryStatus = Literal["paid", "failed", "unknown", "pending", "not_found", "reversed"]
RefundStatus = Literal["success", "pending", "failed", "unknown", "not_found"]
BillKind = Literal["pay", "reverse", "refund"]
FundKind = Literal["trade", "refund", "fee", "other"]


class PaymentError(Exception):
    """Base of the payments package's exceptions."""


class ResponseNotTrusted(PaymentError):
    """A gateway response whose signature, serial, timestamp or nonce does not check out."""


class NotificationRejected(PaymentError):
    """A notification refused: ``reason`` says why (logged; nothing changes state)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ChargeRequest:
    """One charge. ``auth_code`` is the shopper's payment code: memory only, never repr'd."""

    out_trade_no: str
    amount: int
    currency: str = "CNY"
    description: str = "自助收银"
    auth_code: str | None = field(default=None, repr=False)
    payer_token: str | None = field(default=None, repr=False)
    card_last4: str | None = None
    member_id: str | None = None
    store_id: str = ""
    kiosk_id: str = ""


@dataclass
class Outcome:
    """Result of a charge or a query."""

    status: QueryStatus
    reason: str = ""                 # neutral reason: insufficient_funds, code_invalid, ...
    code: str = ""                   # the provider's own code (USERPAYING, ACQ.*, 10003 ...)
    message: str = ""
    provider_ref: str | None = None  # transaction id / trade_no / intent id / capture id
    amount: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class ReverseOutcome:
    """Result of a reverse (WeChat) / cancel (Alipay) / void-or-refund (card, PayPal)."""

    done: bool
    retry: bool = False              # WeChat ``recall`` / Alipay ``retry_flag=Y``
    action: str = ""                 # close | refund | none
    code: str = ""
    message: str = ""


@dataclass
class RefundOutcome:
    status: RefundStatus
    amount: int | None = None
    provider_ref: str | None = None
    code: str = ""
    message: str = ""


@dataclass(frozen=True)
class Notification:
    """A verified, decrypted payment notification."""

    provider: str
    replay_key: str                  # nonce / notify_id: refused when seen again
    out_trade_no: str
    status: QueryStatus
    provider_ref: str | None
    amount: int | None
    currency: str | None


@dataclass(frozen=True)
class BillLine:
    """One row of a provider's daily bill."""

    kind: BillKind
    out_trade_no: str
    amount: int
    currency: str
    provider_ref: str
    out_refund_no: str = ""
    # The provider's fee on this line in fen (negative: given back with a refund);
    # ``None`` when the bill has no fee column.
    fee: int | None = None


@dataclass(frozen=True)
class FundLine:
    """One movement of the merchant's balance at the provider (fund-flow bill, 资金账单)."""

    kind: FundKind
    out_trade_no: str  # the business voucher (业务凭证号); "" when none
    amount: int  # fen; positive in, negative out
    balance: int  # the account's balance after it


class NonceCache:
    """Bounded memory of recently seen nonces (replay protection for responses)."""

    def __init__(self, size: int = SEEN_NONCES) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._size = size

    def add(self, nonce: str) -> bool:
        """False when ``nonce`` was seen already."""
        if nonce in self._seen:
            return False
        self._seen[nonce] = time.time()
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True


def fresh(timestamp: float, now: float | None = None) -> bool:
    return abs((now if now is not None else time.time()) - timestamp) <= MAX_MESSAGE_AGE_S


class PaymentProvider(abc.ABC):
    """A payment provider client. Subclasses own their HTTP session (one per event loop)."""

    name: str = "provider"
    #: tender methods this provider serves
    methods: tuple[str, ...] = ()

    def __init__(self, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                connector=aiohttp.TCPConnector(limit=64),
            )
            self._session_loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    @abc.abstractmethod
    async def charge(self, req: ChargeRequest) -> Outcome:
        """Take the payment. Retrying with the same request must never charge twice."""

    @abc.abstractmethod
    async def query(self, out_trade_no: str, provider_ref: str | None = None) -> Outcome:
        """The provider's view of the trade."""

    @abc.abstractmethod
    async def reverse(self, out_trade_no: str, provider_ref: str | None = None) -> ReverseOutcome:
        """Cancel the trade: closes an unpaid one, gives the money back on a paid one."""

    @abc.abstractmethod
    async def refund(self, out_trade_no: str, out_refund_no: str, amount: int, total: int,
                     currency: str, provider_ref: str | None = None,
                     reason: str = "") -> RefundOutcome:
        """Refund ``amount`` of a paid trade; idempotent by ``out_refund_no``."""

    @abc.abstractmethod
    async def refund_query(self, out_trade_no: str, out_refund_no: str,
                           provider_ref: str | None = None) -> RefundOutcome:
        """The provider's view of one refund."""

    def verify_notification(self, headers: Mapping[str, str], body: bytes | str) -> Notification:
        """Verify (and decrypt) a notification or raise :class:`NotificationRejected`."""
        raise NotificationRejected(f"{self.name} sends no notifications here")

    async def download_bill(self, day: str) -> list[BillLine]:
        """The provider's bill of ``day`` (YYYY-MM-DD)."""
        raise PaymentError(f"{self.name} has no daily bill")

    has_bill: bool = False
