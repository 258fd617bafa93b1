"""扫码支付 at the kiosk: the shopper pays by scanning a WeChat Pay QR the kiosk prints.

For a shopper who cannot show a payment code. The ``KIOSK:PAY:WECHAT_QR`` card (see
:mod:`kiosk_agent.assembly`) at the payment step starts it:

* refused before anything is journaled when the kiosk is offline (the QR is made by
  WeChat through the bridge), when the receipt printer cannot print, or while an
  earlier attempt is still being confirmed (正在确认支付: never a second charge);
* otherwise the attempt is journaled like a payment code's (checkout ``payment_started``,
  tender ``wechat``), the bridge makes the QR (:mod:`kiosk_agent.native_pay`), it is
  printed on a slip and the display asks the shopper to scan it;
* the wait runs in its own task, so the camera keeps reading: ``KIOSK:CANCEL`` closes the
  QR (nothing charged; back to the payment step) and a payment code is refused while
  the QR is open (the checkout is ``paying``);
* paid: the sale commits and its receipt prints, as for a payment code; failed:
  back to the payment step; unknown: settled like a payment code's unknown outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from .checkout import Ev, Refusal, State
from .native_pay import pay_by_qr
from .payments import KioskPayments, PaymentOutcome

if TYPE_CHECKING:
    from .agent import Agent
    from .checkout import Checkout
    from .journal import PaymentAttempt

log = logging.getLogger(__name__)

#: Refused because the link to the bridge is down (zh, en); nothing was journaled.
OFFLINE = ("网络中断，暂不能扫码支付，请出示付款码或联系工作人员",
           "We are offline and cannot make a payment QR code. "
           "Please show a payment code or ask staff.")
#: Refused because no QR can be shown: the receipt printer is off or not ready.
NO_PRINTER = ("打印机不可用，暂不能扫码支付，请出示付款码或联系工作人员",
              "The printer cannot print the QR code. Please show a payment code or ask staff.")
# The same on the 2x20 customer display (line 1, line 2) per language.
_SCREENS = {
    "qr_offline": {"zh": ("网络中断", "请出示付款码"), "en": ("Offline: no QR pay", "Show a pay code")},
    "qr_no_printer": {"zh": ("打印机不可用", "请出示付款码"),
                      "en": ("Printer unavailable", "Show a pay code")},
}
_CART = (State.SCANNING, State.MEMBER_ATTACHED)


class QrSale:
    """The kiosk's Native QR payment: at most one open at a time."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.task: asyncio.Task[PaymentOutcome | None] | None = None
        self.cancelled = asyncio.Event()
        self.code_url: str | None = None  # the QR while it is out

    @property
    def open(self) -> bool:
        return self.task is not None and not self.task.done()

    def _refuse(self, co: Checkout, code: str, words: tuple[str, str]) -> Refusal:
        return Refusal("pay_qr", co.state, code, *words)

    async def start(self) -> asyncio.Task[PaymentOutcome | None] | None:
        """The shopper chose to pay by QR; the task that waits for the payment (None when
        an earlier attempt was found paid meanwhile: that sale is finished instead).

        Raises:
            Refusal: offline, no printer, an attempt still unsettled, or the checkout's state.
        """
        agent = self.agent
        co = agent.checkout
        if co is None:
            raise RuntimeError("the checkout is not running")
        gw = agent.payments
        if self.open:
            raise self._refuse(co, "qr_open", ("请扫描已打印的二维码", "scan the QR code printed"))
        if co.state in _CART:
            co.request_payment()
        if not co.allowed(Ev.PAYMENT_STARTED):
            raise self._refuse(co, f"invalid_in_{co.state}", ("当前不能付款",
                                                              "payment is not possible now"))
        link = agent.runtime.link
        if not isinstance(gw, KioskPayments) or link is None or not link.connected.is_set():
            await self._say("qr_offline")
            raise self._refuse(co, "qr_offline", OFFLINE)
        printer = agent.runtime.printer
        if printer is None or printer.spooler is None or not await printer.spooler.ready():
            await self._say("qr_no_printer")
            raise self._refuse(co, "qr_no_printer", NO_PRINTER)
        already = await co.before_new_attempt()
        if already is not None:
            await agent.finish_sale()
            return None
        attempt = await co.payment_started("wechat")
        self.cancelled = asyncio.Event()
        self.task = asyncio.create_task(self._run(co, gw, attempt), name="qr-payment")
        return self.task

    async def cancel(self) -> bool:
        """The shopper gave up on the open QR (it is closed); False when none was open."""
        if not self.open:
            return False
        self.cancelled.set()
        return True

    async def stop(self) -> None:
        """The agent stops: end the wait (the attempt stays journaled as it is, so the next
        start settles it: ``KioskPayments.resume_unsettled``)."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _run(self, co: Checkout, gw: KioskPayments,
                   attempt: PaymentAttempt) -> PaymentOutcome | None:
        try:
            out = await pay_by_qr(
                gw, attempt.order_no, attempt.out_trade_no, attempt.amount, attempt.currency,
                show=lambda url: self._show(url, attempt), cancelled=self.cancelled,
                wait_s=self.agent.config.payments.qr_wait_s)
            self.code_url = None
            # The display follows the checkout's event (paid, or 支付失败: show a code).
            result = await co.payment_outcome(attempt, out.status, out.reason, out)
            if result.status == "paid":
                await self.agent.finish_sale()
            return out
        except Exception as err:  # nothing is lost: the checkout recovers, the cloud settles
            log.error("native payment %s failed: %s", attempt.out_trade_no, err, exc_info=True)
            await co.recover_from_error(f"error: {type(err).__name__}")
            if co.state == State.PAID:
                await self.agent.finish_sale()
            return None
        finally:
            self.code_url = None

    async def _show(self, code_url: str, attempt: PaymentAttempt) -> bool:
        """Print the QR slip and point the shopper at it; False when it did not print."""
        from drivers.receipt import layout_pay_qr

        from .printing import receipt_options

        printer = self.agent.runtime.printer
        if printer is None or printer.spooler is None:
            return False
        layout = layout_pay_qr(code_url, attempt.amount, attempt.currency,
                               receipt_options(self.agent.config), attempt.order_no)
        if not await printer.spooler.print_now(layout):
            return False
        self.code_url = code_url
        display = self.agent.runtime.display
        if display is not None:
            with contextlib.suppress(Exception):  # a broken display must not lose the sale
                await display.display.show_qr_prompt(attempt.amount)
        return True

    async def _say(self, refusal: str) -> None:
        """Tell the shopper on the customer display why the QR was refused."""
        display = self.agent.runtime.display
        if display is not None:
            with contextlib.suppress(Exception):  # a broken display must not break the kiosk
                await display.display.show(_SCREENS[refusal])


def qr_sale(agent: Agent) -> QrSale:
    """The agent's :class:`QrSale` (made on first use)."""
    if agent.runtime.qr_sale is None:
        agent.runtime.qr_sale = QrSale(agent)
    return agent.runtime.qr_sale
