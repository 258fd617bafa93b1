"""The kiosk agent's main: the journal, the checkout and every component in one TaskGroup.

Lifecycle: open the journal, run start-up recovery, load the price book, then run
every component in an :class:`asyncio.TaskGroup` until the stop event is set
(SIGTERM/SIGINT, or :meth:`Agent.stop`); then give the components
:data:`DRAIN_TIMEOUT_S` to finish their work, cancel what is left, leave their
context managers in reverse order and close the journal last.

Components are written by other modules (scanner, printer spooler, display, MQTT
link, control API, ...). Plugging one in needs only one of:

* an object with ``async run(stop_event)`` (optionally also an async context
  manager: it is entered before ``run`` and left after it), or
* an ``async def f(stop_event)`` coroutine function.

``agent.add_component("printer", spooler)`` before :meth:`Agent.run`; ``kiosk-agent
run`` builds every part from the config in :func:`build_agent`, in code order, and
keeps each in a typed field of ``agent.runtime`` (:class:`~.runtime.KioskRuntime`).
A component that raises is logged and restarted after :data:`RESTART_BACKOFF_S`
(capped backoff): a broken display never stops a sale.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from common.jsontypes import JsonObject
from contract.codes import PAYMENT_KINDS

from .cart_edits import cart_edits
from .checkout import Checkout, CheckoutError, Pricer, Refusal, State
from .config import AgentConfig
from .journal import Journal, RecoveryReport
from .revocations import shadow_revocations, with_revocations
from .runtime import Component as RunsUntilStopped
from .runtime import KioskRuntime
from .staff_calls import badge_at_kiosk, staff_calls
from .weighing import scale_component, weight_for_scan

if TYPE_CHECKING:
    from contract.pricebook import PriceBook

    from .checkout import PaymentGateway
    from .members import MemberSnapshot

log = logging.getLogger(__name__)

# On stop, components get this long to drain (flush the outbox window, finish a
# receipt) before they are cancelled; systemd's TimeoutStopSec must be larger.
DRAIN_TIMEOUT_S = 10.0
# A crashed component restarts after this, doubling up to RESTART_BACKOFF_MAX_S, so
# a device that fails at once does not spin the CPU.
RESTART_BACKOFF_S = 1.0
RESTART_BACKOFF_MAX_S = 30.0
# How often the abandoned-cart timer looks at the checkout; the timeout itself is
# config kiosk.abandoned_cart_s. One second is precise enough for a cart.
CART_TIMER_TICK_S = 1.0
# After a paid sale, wait this long for the receipt to print before showing the
# "thank you" screen anyway (the job stays pending and prints when it can).
RECEIPT_WAIT_S = 8.0
RECEIPT_POLL_S = 0.1

ComponentRun = Callable[[asyncio.Event], Awaitable[object]]


#: What :meth:`Agent.add_component` takes: an object with ``run`` or the coroutine function.
Component = RunsUntilStopped | ComponentRun


class ScanEvent(Protocol):
    """A classified scan (``drivers.scanning.Scan``); a scale may add ``weight_g``."""

    @property
    def text(self) -> str: ...

    @property
    def kind(self) -> str: ...


@dataclass
class _Registered:
    name: str
    component: Component
    restart: bool


class Agent:
    """The kiosk agent. Holds config, journal, price book, checkout and components.

    Args:
        config: the validated agent config.
        payments: the payment gateway given to the checkout (``charge(...)``).
        book: a ``catalog.PriceBook`` to use instead of loading one.
        pricer: pricing function for the checkout (default ``pricing.price_cart``).
        journal: an already-constructed (not yet open) journal, for tests.
    """

    def __init__(
        self,
        config: AgentConfig,
        *,
        payments: PaymentGateway | None = None,
        book: PriceBook | None = None,
        pricer: Pricer | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.config = config
        self.journal = journal or Journal(
            config.journal.path, config.kiosk.store_id, config.kiosk.kiosk_id,
            timezone=config.kiosk.timezone,
        )
        self.payments = payments
        self.book = book
        self.pricer = pricer
        self.checkout: Checkout | None = None
        self.recovery: RecoveryReport | None = None
        self.stop_event = asyncio.Event()
        self.started = asyncio.Event()
        self.runtime = KioskRuntime()
        self._components: list[_Registered] = []
        self._scan_sources: list[AsyncIterable[ScanEvent]] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.receipt_wait_s = RECEIPT_WAIT_S

    # -- plugging in ---------------------------------------------------------------

    def add_component(self, name: str, component: Component, *, restart: bool = True) -> None:
        """Register a component (see the module docstring) to run with the agent."""
        if not (callable(getattr(component, "run", None)) or callable(component)):
            raise TypeError(f"component {name!r} has no run(stop_event) and is not callable")
        self._components.append(_Registered(name, component, restart))

    def components(self) -> list[tuple[str, Component]]:
        """``(name, component)`` of every registered component, in registration order."""
        return [(reg.name, reg.component) for reg in self._components]

    def health_report(self) -> dict[str, JsonObject]:
        """``{name: health}`` of every component with a ``health()`` probe (sync ones:
        the link's ``health`` is its async telemetry provider, not a probe)."""
        report: dict[str, JsonObject] = {}
        for name, component in self.components():
            method = getattr(component, "health", None)
            if not callable(method) or inspect.iscoroutinefunction(method):
                continue
            try:
                value = method()
            except Exception as err:  # a health probe must never break its reader
                value = {"state": "error", "reason": str(err)}
            if isinstance(value, dict):
                report[name] = value
        report.setdefault("journal", self.journal.write_health())  # disk full, I/O errors
        return report

    def add_scan_source(self, source: AsyncIterable[ScanEvent]) -> None:
        """An async iterable of scans (``.text``, ``.kind``, optional ``.symbology``)."""
        self._scan_sources.append(source)

    def stop(self) -> None:
        """Ask the agent to shut down gracefully (what SIGTERM does)."""
        self.stop_event.set()

    def tasks_healthy(self) -> bool:
        """True while every component task is alive (for the systemd watchdog)."""
        return self.started.is_set() and all(not t.done() for t in self._tasks.values())

    # -- price book ----------------------------------------------------------------

    async def _load_price_book(self) -> PriceBook | None:
        if self.book is not None:
            return self.book
        from contract import pricebook as catalog

        stored = await self.journal.current_price_book()
        if stored is not None:
            version, _sha, body = stored
            try:
                # A price book of thousands of products takes a while to parse: a thread.
                return await asyncio.to_thread(catalog.PriceBook.model_validate_json, body)
            except Exception as err:  # fall back to the seed file below
                log.error("stored price book %s unusable: %s", version, err)
        seed: Path | None = self.config.journal.seed_price_book
        if seed is not None:
            book = await asyncio.to_thread(catalog.load_price_book, seed)
            await self.journal.store_price_book(book)
            log.info("price book %s loaded from %s", book.version, seed)
            return book
        log.warning("no price book yet: scans are refused until catalog sync delivers one")
        return None

    # -- running -------------------------------------------------------------------

    async def run(self) -> None:
        """Run until :meth:`stop` (or SIGTERM/SIGINT); return after a clean shutdown."""
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stop)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread (tests) or not supported
        try:
            async with self.journal, contextlib.AsyncExitStack() as stack:
                self.recovery = await self.journal.recover()
                self.book = with_revocations(await self._load_price_book(),
                                             shadow_revocations(self))  # shadow's list too
                self.checkout = Checkout(
                    self.journal, self.book, self.payments, pricer=self.pricer,
                    language="en" if self.config.receipt.language == "en" else "zh",
                )
                runners: list[tuple[str, ComponentRun, bool]] = []
                for reg in self._components:
                    comp = reg.component
                    if isinstance(comp, contextlib.AbstractAsyncContextManager):
                        entered = await stack.enter_async_context(comp)
                        comp = entered if isinstance(entered, RunsUntilStopped) else comp
                    run = comp.run if isinstance(comp, RunsUntilStopped) else comp
                    runners.append((reg.name, run, reg.restart))
                runners.append(("cart-timer", self._cart_timer, True))
                for i, source in enumerate(self._scan_sources):
                    runners.append((f"scans-{i}", self._scan_consumer(source), True))
                async with asyncio.TaskGroup() as tg:
                    for name, run, restart in runners:
                        self._tasks[name] = tg.create_task(
                            self._supervise(name, run, restart), name=f"agent:{name}"
                        )
                    self.started.set()
                    log.info(
                        "agent %s/%s running with %d component(s)",
                        self.config.kiosk.store_id, self.config.kiosk.kiosk_id, len(runners),
                    )
                    await self.stop_event.wait()
                    log.info("stopping: draining for up to %.0f s", DRAIN_TIMEOUT_S)
                    tasks = list(self._tasks.values())
                    _done, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
                    for task in pending:
                        log.warning("component %s did not stop in time; cancelling",
                                    task.get_name())
                        task.cancel()
                if self.runtime.qr_sale is not None:  # an open QR stays journaled (settled
                    await self.runtime.qr_sale.stop()  # at the next start), the wait ends
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            self.started.clear()
        log.info("agent stopped")

    async def _supervise(self, name: str, run: ComponentRun, restart: bool) -> None:
        backoff = RESTART_BACKOFF_S
        while not self.stop_event.is_set():
            try:
                await run(self.stop_event)
                return  # a component that returns is done (normally: stop was set)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("component %s failed", name)
                if not restart:
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), backoff)
            backoff = min(backoff * 2, RESTART_BACKOFF_MAX_S)

    async def _cart_timer(self, stop: asyncio.Event) -> None:
        limit = self.config.kiosk.abandoned_cart_s
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CART_TIMER_TICK_S)
            co = self.checkout
            if co is not None and co.allowed("timeout") and co.state != State.IDLE:
                if co.idle_for() >= limit:
                    log.info("cart abandoned after %.0f s in %s", co.idle_for(), co.state)
                    with contextlib.suppress(Refusal):
                        await co.timeout()

    def _scan_consumer(self, source: AsyncIterable[ScanEvent]) -> ComponentRun:
        async def consume(stop: asyncio.Event) -> None:
            iterator = aiter(source)
            while not stop.is_set():
                next_scan = asyncio.ensure_future(anext(iterator))
                stopped = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait(
                    {next_scan, stopped}, return_when=asyncio.FIRST_COMPLETED
                )
                if next_scan not in done:
                    next_scan.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await next_scan
                    return
                stopped.cancel()
                try:
                    scan = next_scan.result()
                except StopAsyncIteration:
                    return
                await self.handle_scan(scan)

        return consume

    # -- scans -> checkout ---------------------------------------------------------

    async def handle_scan(self, scan: ScanEvent) -> Refusal | None:
        """Route one classified scan to the checkout; returns the refusal, if any.

        product -> scan_product; wechat/alipay -> pay (when awaiting payment);
        member -> attach_member; coupon -> add_coupon; staff -> staff_approve. Payment code text is
        never logged.
        """
        co = self.checkout
        kind, text = scan.kind, scan.text
        if co is None:
            return None
        try:
            if kind == "product":
                if self.book is None:
                    log.warning("scan refused: no price book loaded")
                    return None
                if cart_edits(self).in_remove_mode():  # after KIOSK:REMOVE: take one out
                    await cart_edits(self).remove_one(text)
                    return None
                # Weighed goods by barcode are weighed on the [scale] (kiosk_agent.weighing).
                weight = await weight_for_scan(self, text, getattr(scan, "weight_g", None))
                co.scan_product(text, weight)
            elif kind in PAYMENT_KINDS:
                if co.state in (State.SCANNING, State.MEMBER_ATTACHED):
                    co.request_payment()
                result = await co.pay(kind, text)
                if result.status == "paid":
                    await self.finish_sale()
            elif kind == "member":
                from .members import pricing_member

                snap = self._member_from_code(text)
                co.attach_member(pricing_member(snap), proof=snap.proof())
            elif kind == "coupon":  # after the member code (kiosk_agent.coupons)
                from .coupons import coupon_at_kiosk

                await coupon_at_kiosk(self, text)
            elif kind == "staff":  # only a valid signed badge (kiosk_agent.badges)
                await badge_at_kiosk(self, co, text)  # a staff call, a void, or badges
            else:
                return None
        except Refusal as refusal:
            log.info("scan (%s) refused: %s", kind, refusal.en)
            if self.runtime.sessions is not None:  # the session summary counts its code
                self.runtime.sessions.refused(refusal.code)
            return refusal
        except CheckoutError as err:
            log.warning("scan (%s) failed: %s", kind, err)
        except Exception as err:
            return await self._recover_checkout(co, kind, err)
        return None

    async def _recover_checkout(self, co: Checkout, kind: str, err: Exception) -> Refusal:
        """An unexpected error must not wedge the checkout: log it once, put the checkout
        back into a usable state (nothing lost: see ``Checkout.recover_from_error``) and
        refuse the scan with a message the shopper understands."""
        # A payment scan's exception text may quote the payment code: only its type.
        payment = kind in PAYMENT_KINDS
        if self.runtime.sessions is not None:
            self.runtime.sessions.refused("internal_error")
        log.error("scan (%s) failed in %s: %s; checkout reset", kind, co.state,
                  type(err).__name__ if payment else err, exc_info=not payment)
        try:
            await co.recover_from_error(f"error: {type(err).__name__}")
            if co.state == State.PAID:
                await self.finish_sale()
        except Exception:
            log.exception("checkout reset after an error failed")
            with contextlib.suppress(Exception):
                await co.recover_from_error("error during reset")
        return Refusal(f"scan_{kind}", co.state, "internal_error",
                       "系统出错，请重试或联系店员", "something went wrong; try again or ask staff")

    def _member_from_code(self, text: str) -> MemberSnapshot:
        # Issue 13: a member code is a signed token verified offline with the chain's
        # member_pubkey; level and points come from its snapshot (kiosk_agent.members).
        from .members import INVALID, REASONS, MemberCodeError, member_codes_for

        try:
            return member_codes_for(self).verify(text)
        except MemberCodeError as err:
            zh, en = REASONS.get(err.reason, INVALID)
            state = self.checkout.state if self.checkout is not None else State.IDLE
            raise Refusal("attach_member", state, f"member_{err.reason}", zh, en) from None

    async def finish_sale(self) -> None:
        """paid -> printing -> completed, waiting (bounded) for the receipt job."""
        co = self.checkout
        if co is None or co.sale is None:
            return
        co.print_started()
        job_id = co.sale.print_job_id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.receipt_wait_s
        while job_id is not None and loop.time() < deadline and not self.stop_event.is_set():
            pending = await self.journal.print_jobs_pending()
            if all(p.job_id != job_id for p in pending):
                break
            await asyncio.sleep(RECEIPT_POLL_S)
        co.print_done()


def build_agent(config: AgentConfig) -> Agent:
    """The agent with every part ``kiosk-agent run`` starts, built in this order.

    The link comes first among the fleet parts: the outbox, catalog and commands attach
    to it, and payments go over its RPC. Each factory returns ``None`` when the config
    turns its part off; the names are the ones staff see in the TUI and telemetry.
    """
    from . import assembly
    from .control import control_component
    from .journal_pruning import pruning_component
    from .sdnotify import agent_notify_component
    from .session_summary import SessionRecorder

    agent = Agent(config)
    agent.runtime.sessions = SessionRecorder(agent.journal, lambda: agent.checkout)
    parts: list[tuple[str, Component | None]] = [
        ("control", control_component(agent)),  # staff control socket (kiosk-tui)
        ("systemd", agent_notify_component(agent)),  # READY/STATUS/WATCHDOG
        ("link", assembly.link_component(agent)),  # MQTT link, presence, telemetry, payments
        ("outbox", assembly.outbox_component(agent)),  # outbox drainer (end-to-end acks)
        ("catalog", assembly.catalog_component(agent)),  # shadow + catalog sync
        ("camera", assembly.scan_component(agent)),  # camera + serial scanner
        ("printer", assembly.printer_component(agent)),  # print spooler + printer
        ("display", assembly.display_component(agent)),  # customer display
        ("scale", scale_component(agent)),  # serial scale for loose produce ([scale])
        ("journal_pruning", pruning_component(agent)),  # archive + prune on a schedule
        ("sessions", agent.runtime.sessions),  # session.summary events (analytics)
    ]
    assembly.commands_component(agent)  # signed fleet commands: handlers on the link
    staff_calls(agent)  # 呼叫店员: re-published on every connect of the link
    for name, component in parts:
        if component is not None:
            agent.add_component(name, component)
    return agent
