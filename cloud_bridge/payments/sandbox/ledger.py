"""The sandbox's book of trades and its fault injection, shared by every gateway.

A gateway (wechat, alipay, card, paypal) translates its own wire protocol into
calls on one :class:`Ledger`. Payment codes are single use, exactly as real
付款码 are: the ledger keeps only a SHA-256 of each code (never the code) to
refuse a second use and to count debits per code, which is what the chaos test
checks ("no payment code was charged twice").
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import random
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from common.jsontypes import JsonObject

log = logging.getLogger(__name__)

CHINA_TZ = timezone(timedelta(hours=8))
# A payer's balance unless a test sets one: large enough for any demo basket.
DEFAULT_BALANCE = 10**9

FAULT_KINDS = (
    "timeout",         # process the request, then hold the response past any client timeout
    "drop",            # hold the response without processing (request "lost" on the way)
    "http_500",        # process, then answer HTTP 500 (money may have moved)
    "http_503",        # answer HTTP 503 without processing
    "userpaying",      # pay: shopper confirming on the phone; ``polls`` queries stay in process
    "systemerror",     # WeChat SYSTEMERROR / Alipay 20000 without processing
    "notenough",       # insufficient balance
    "code_invalid",    # invalid payment code
    "code_expired",    # expired payment code
)


def code_hash(code: str) -> str:
    """What the sandbox keeps of a payment code: never the code itself."""
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass
class FaultRule:
    """One injected fault: applies to ``op`` requests (``*`` = any) matching ``out_trade_no``."""

    kind: str
    op: str = "pay"
    out_trade_no: str | None = None
    times: int = 1                 # requests it applies to; -1 = until cleared
    polls: int = 2                 # userpaying: queries that still answer "in process"
    then: str = "SUCCESS"          # userpaying: final state, SUCCESS or PAYERROR
    probability: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")


@dataclass
class RandomFaults:
    """Faults drawn at random for every request (chaos runs)."""

    rate: float
    kinds: tuple[str, ...]
    ops: tuple[str, ...] = ("pay", "query", "reverse")
    rng: random.Random = field(default_factory=random.Random)


class Faults:
    """Rules in the order added; the first matching rule with uses left fires."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.random: RandomFaults | None = None
        self.fired: dict[str, int] = {}

    def add(self, rule: FaultRule) -> FaultRule:
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()
        self.random = None

    def pick(self, op: str, out_trade_no: str | None) -> FaultRule | None:
        for rule in self.rules:
            if rule.times == 0 or rule.op not in (op, "*"):
                continue
            if rule.out_trade_no is not None and rule.out_trade_no != out_trade_no:
                continue
            if rule.probability < 1.0 and random.random() >= rule.probability:
                continue
            if rule.times > 0:
                rule.times -= 1
            self.fired[rule.kind] = self.fired.get(rule.kind, 0) + 1
            return rule
        rf = self.random
        if rf and op in rf.ops and rf.rng.random() < rf.rate:
            kinds = [k for k in rf.kinds if op == "pay" or k in ("timeout", "http_503", "drop")]
            if kinds:
                kind = rf.rng.choice(kinds)
                self.fired[kind] = self.fired.get(kind, 0) + 1
                return FaultRule(kind=kind, op=op, polls=rf.rng.randint(1, 3))
        return None


@dataclass
class Refund:
    out_refund_no: str
    refund_id: str
    amount: int
    created_at: datetime
    status: str = "SUCCESS"


@dataclass
class Trade:
    """One trade at the provider. ``state`` uses WeChat's names internally."""

    out_trade_no: str
    transaction_id: str
    amount: int
    currency: str
    code_sha: str
    description: str
    created_at: datetime
    state: str = "USERPAYING"      # USERPAYING, SUCCESS, PAYERROR, REVOKED, CLOSED
    paid_at: datetime | None = None
    revoked_at: datetime | None = None
    pending_polls: int = 0
    then: str = "SUCCESS"
    debited: bool = False
    refunds: dict[str, Refund] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def refunded(self) -> int:
        return sum(r.amount for r in self.refunds.values() if r.status == "SUCCESS")


@dataclass
class BillRow:
    """One line of the daily bill: a payment or a refund/reversal as the provider books it."""

    at: datetime
    kind: str           # PAY, REVOKE, REFUND
    out_trade_no: str
    transaction_id: str
    amount: int
    currency: str
    out_refund_no: str = ""


class PayError(Exception):
    """A business refusal: ``code`` is the ledger's neutral name, gateways translate it."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.message = message or code


class Ledger:
    """Trades, payers' balances, and the bill of one gateway."""

    def __init__(self, name: str, id_prefix: str, code_pattern: str | None = None,
                 single_use_codes: bool = True) -> None:
        self.name = name
        self.single_use_codes = single_use_codes
        self.trades: dict[str, Trade] = {}
        self.balances: dict[str, int] = {}
        self.code_used: dict[str, str] = {}          # code sha -> out_trade_no
        self.debits_per_code: dict[str, int] = {}
        self.bill: list[BillRow] = []
        self.faults = Faults()
        self._ids = itertools.count(1)
        self._prefix = id_prefix
        self._code_re = re.compile(code_pattern) if code_pattern else None
        self.expired_codes: set[str] = set()

    # ------------------------------------------------------------ helpers
    def new_id(self) -> str:
        stamp = datetime.now(CHINA_TZ).strftime("%Y%m%d")
        return f"{self._prefix}{stamp}{next(self._ids):010d}{random.randint(1000, 9999)}"

    def set_balance(self, code: str, balance: int) -> None:
        self.balances[code_hash(code)] = balance

    def expire_code(self, code: str) -> None:
        self.expired_codes.add(code_hash(code))

    def _debit(self, trade: Trade) -> None:
        sha = trade.code_sha
        self.balances[sha] = self.balances.get(sha, DEFAULT_BALANCE) - trade.amount
        trade.debited = True
        trade.state = "SUCCESS"
        trade.paid_at = datetime.now(UTC)
        self.debits_per_code[sha] = self.debits_per_code.get(sha, 0) + 1
        self.bill.append(BillRow(trade.paid_at, "PAY", trade.out_trade_no,
                                 trade.transaction_id, trade.amount, trade.currency))

    def _credit_back(self, trade: Trade, kind: str, amount: int, refund_no: str = "") -> None:
        self.balances[trade.code_sha] = self.balances.get(trade.code_sha, DEFAULT_BALANCE) + amount
        self.bill.append(BillRow(datetime.now(UTC), kind, trade.out_trade_no,
                                 trade.transaction_id, amount, trade.currency, refund_no))

    # ------------------------------------------------------------ operations
    def pay(self, out_trade_no: str, amount: int, currency: str, code: str, description: str,
            fault: FaultRule | None = None, meta: dict[str, str] | None = None) -> Trade:
        """Charge ``code``; returns the trade (state SUCCESS or USERPAYING) or raises PayError."""
        if amount <= 0:
            raise PayError("PARAM_ERROR", "amount must be positive")
        sha = code_hash(code)
        existing = self.trades.get(out_trade_no)
        if existing is not None:
            if existing.amount != amount or existing.currency != currency or existing.code_sha != sha:
                raise PayError("OUT_TRADE_NO_USED", "same out_trade_no with different parameters")
            if existing.state in ("REVOKED", "CLOSED"):
                raise PayError("TRADE_CLOSED", "order already closed or revoked")
            if existing.state == "PAYERROR":
                raise PayError("TRADE_ERROR", "order failed")
            return existing     # idempotent repeat: same answer as the first time
        if self._code_re and not self._code_re.match(code):
            raise PayError("AUTH_CODE_INVALID", "payment code format invalid")
        if fault and fault.kind == "code_invalid":
            raise PayError("AUTH_CODE_INVALID", "payment code invalid")
        if (fault and fault.kind == "code_expired") or sha in self.expired_codes:
            raise PayError("AUTH_CODE_EXPIRED", "payment code expired, refresh it")
        if self.single_use_codes and sha in self.code_used:
            raise PayError("AUTH_CODE_INVALID", "payment code already used")
        if (fault and fault.kind == "notenough") or self.balances.get(sha, DEFAULT_BALANCE) < amount:
            self.code_used[sha] = out_trade_no
            raise PayError("NOTENOUGH", "insufficient balance")
        trade = Trade(out_trade_no, self.new_id(), amount, currency, sha, description,
                      datetime.now(UTC), meta=dict(meta or {}))
        self.trades[out_trade_no] = trade
        self.code_used[sha] = out_trade_no
        if fault and fault.kind == "userpaying":
            trade.pending_polls = max(0, fault.polls)
            trade.then = fault.then
        else:
            self._debit(trade)
        return trade

    def query(self, out_trade_no: str) -> Trade:
        trade = self.trades.get(out_trade_no)
        if trade is None:
            raise PayError("ORDER_NOT_EXIST", "order does not exist")
        if trade.state == "USERPAYING":
            if trade.pending_polls > 0:
                trade.pending_polls -= 1
            elif trade.then == "SUCCESS":
                self._debit(trade)
            else:
                trade.state = "PAYERROR"
        return trade

    def reverse(self, out_trade_no: str) -> tuple[Trade, str]:
        """Revoke (WeChat reverse / Alipay cancel): ``action`` is ``close`` or ``refund``."""
        trade = self.trades.get(out_trade_no)
        if trade is None:
            raise PayError("ORDER_NOT_EXIST", "order does not exist")
        if trade.refunds:
            raise PayError("REVERSE_NOT_ALLOWED", "order has refunds; use refund")
        action = "close"
        if trade.state == "SUCCESS":
            action = "refund"
            self._credit_back(trade, "REVOKE", trade.amount)
        if trade.state != "REVOKED":
            trade.state = "REVOKED"
            trade.revoked_at = datetime.now(UTC)
        return trade, action

    def refund(self, out_trade_no: str, out_refund_no: str, amount: int) -> Refund:
        trade = self.trades.get(out_trade_no)
        if trade is None:
            raise PayError("ORDER_NOT_EXIST", "order does not exist")
        existing = trade.refunds.get(out_refund_no)
        if existing is not None:
            if existing.amount != amount:
                raise PayError("REFUND_MISMATCH", "same out_refund_no with a different amount")
            return existing
        if trade.state != "SUCCESS":
            raise PayError("TRADE_NOT_PAID", "order is not paid")
        if amount <= 0 or trade.refunded + amount > trade.amount:
            raise PayError("REFUND_EXCEEDS", "refund exceeds the refundable amount")
        refund = Refund(out_refund_no, self.new_id(), amount, datetime.now(UTC))
        trade.refunds[out_refund_no] = refund
        self._credit_back(trade, "REFUND", amount, out_refund_no)
        return refund

    def find_refund(self, out_refund_no: str) -> tuple[Trade, Refund]:
        for trade in self.trades.values():
            if out_refund_no in trade.refunds:
                return trade, trade.refunds[out_refund_no]
        raise PayError("RESOURCE_NOT_EXISTS", "refund does not exist")

    def bill_for(self, day: str) -> list[BillRow]:
        """Rows booked on ``day`` (YYYY-MM-DD, China time, as the providers bill)."""
        return [r for r in self.bill if r.at.astimezone(CHINA_TZ).strftime("%Y-%m-%d") == day]

    def snapshot(self) -> JsonObject:
        """JSON-friendly view for the control API and tests (no payment codes)."""
        return {
            "trades": {
                no: {"state": t.state, "amount": t.amount, "currency": t.currency,
                     "transaction_id": t.transaction_id, "debited": t.debited,
                     "refunded": t.refunded}
                for no, t in self.trades.items()
            },
            "max_debits_per_code": max(self.debits_per_code.values(), default=0),
            "faults_fired": dict(self.faults.fired),
        }


def now_ts() -> int:
    return int(time.time())
