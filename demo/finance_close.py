"""The demo's last step: finance closes the store's day over the admin API and prints
the income statement line (what a finance clerk does every evening)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from . import scenario, term

# The bridge's business day (its [bridge] timezone default) and the providers' bill day.
BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def yuan(fen: int) -> str:
    return f"{'-' if fen < 0 else ''}￥{abs(fen) // 100}.{abs(fen) % 100:02d}"


def close_the_day(admin: Any) -> dict[str, Any]:
    """Post, reconcile against the sandbox bills, close when nothing is unexplained.

    A failure here is reported in the summary (``day_closed=0``) rather than failing the
    sales part of the demo, which has been shown by then.
    """
    term.section("财务日结", "Finance: the day's close")
    try:
        return _close(admin)
    except RuntimeError as err:
        term.warn(f"finance close failed: {err}")
        return {"day_closed": 0, "mismatches": -1, "revenue": 0, "net_profit": 0}


def _close(admin: Any) -> dict[str, Any]:
    day = datetime.now(UTC).astimezone(BUSINESS_TZ).date().isoformat()
    posted = admin.call("POST", "/api/v1/admin/finance/post")["posted"]
    term.ok(f"admin API: POST /api/v1/admin/finance/post -> {posted or 'nothing new'}")
    close = admin.call("POST", "/api/v1/admin/finance/closes",
                       {"store": scenario.STORE, "date": day})
    term.ok(f"对账 reconciled {scenario.STORE} {day} against the "
            f"{', '.join(close['providers']) or 'no'} bills: {close['checked']} trades, "
            f"{close['open']} unexplained mismatches")
    for m in close["mismatches"]:
        term.warn(f"{m['kind']} {m['method']} {m['out_trade_no']}: {m['detail']}")
    if close["open"] == 0:
        close = admin.call("POST", f"/api/v1/admin/finance/closes/{close['id']}/close")
        term.ok(f"日结完成 day closed by {close['closed_by']}")
    income = admin.call("GET", f"/api/v1/admin/finance/reports/income?period={day}"
                               f"&store={scenario.STORE}")
    f = income["figures"]
    line = (f"利润表 income statement {scenario.STORE} {day}: 营业收入 revenue "
            f"{yuan(f['revenue'])}, 毛利 gross profit {yuan(f['gross_profit'])}, "
            f"净利润 net profit {yuan(f['net_profit'])}")
    term.ok(line)
    return {"day_closed": int(close["status"] == "closed"), "mismatches": close["open"],
            "revenue": f["revenue"], "net_profit": f["net_profit"]}
