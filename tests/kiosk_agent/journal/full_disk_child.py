"""Child process of the full-disk restart test: ``kiosk-agent run`` (the real CLI and
:func:`kiosk_agent.agent.build_agent`: control socket, sd_notify watchdog, ...) plus a
till committing a sale every few milliseconds through the journal, as the checkout
does. After each commit returned (the sale is durable) it appends ``SOLD <order_no>``
to the file ``$SOLD_LOG``; a sale the journal refused is ``REFUSED <reason>``.

``$WRITE_FAULT_RESTART_S`` shrinks how long the journal may keep failing before it
tells the watchdog it is unhealthy (a test does not wait two minutes)."""

from __future__ import annotations

import asyncio
import os
import sys

from kiosk_agent.journal import JournalWriteError
from kiosk_agent.journal import core as journal_core

journal_core.WRITE_FAULT_RESTART_S = float(os.environ["WRITE_FAULT_RESTART_S"])

from kiosk_agent import agent as agent_module  # noqa: E402
from kiosk_agent.cli import build_parser  # noqa: E402
from tests.kiosk_agent.sales import make_order  # noqa: E402

SALE_EVERY_S = 0.02
_build_agent = agent_module.build_agent


def build_with_till(config):  # type: ignore[no-untyped-def]
    """``build_agent`` plus the till (the CLI calls this one)."""
    agent = _build_agent(config)
    sold = open(os.environ["SOLD_LOG"], "a", buffering=1, encoding="utf-8")

    async def till(stop: asyncio.Event) -> None:
        await agent.started.wait()
        while not stop.is_set():
            try:
                sale = await agent.journal.commit_sale(make_order(n_lines=8),
                                                       print_receipt=False)
            except JournalWriteError as err:
                sold.write(f"REFUSED {str(err)[:60]}\n")
            else:
                sold.write(f"SOLD {sale.order_no}\n")
            try:
                await asyncio.wait_for(stop.wait(), SALE_EVERY_S)
            except TimeoutError:
                pass

    agent.add_component("till", till)
    return agent


def main() -> int:
    """``kiosk-agent run --config FILE``, the real CLI (exit statuses included)."""
    agent_module.build_agent = build_with_till
    args = build_parser(("kiosk_agent.cli_run",)).parse_args(["run", "--config", sys.argv[1]])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
