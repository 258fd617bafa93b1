"""Child process of the crash test: sells in a loop until it is SIGKILLed.

Usage: ``python -m tests.kiosk_agent.crash_child DB REPORT``. After start-up
recovery it writes ``ready`` to stdout, then for each sale: persists a payment
attempt, commits the sale, and only after ``commit_sale`` returned appends the
order number to REPORT (O_APPEND, one write per line).
"""

from __future__ import annotations

import asyncio
import os
import sys

from kiosk_agent.journal import Journal
from tests.kiosk_agent.sales import make_order


async def main(db: str, report: str) -> None:
    fd = os.open(report, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    async with Journal(db, "store1", "kiosk1") as j:
        await j.recover()
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        n = 0
        while True:
            n += 1
            order_no = await j.reserve_order_no()
            otn = f"{order_no}-1"
            await j.begin_payment_attempt(order_no, otn, "wechat", 2 * 350 * (1 + n % 4), "CNY")
            order = make_order(n_lines=1 + n % 4, out_trade_no=otn, order_no=order_no)
            await j.commit_sale(order)
            os.write(fd, f"{order_no}\n".encode())
            if n % 7 == 0:  # some receipts print, some do not
                for job in await j.print_jobs_pending():
                    await j.print_job_done(job.job_id)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
