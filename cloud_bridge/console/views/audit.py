"""The audit trail: every money, device and access change made in the console."""

from __future__ import annotations

from sqlalchemy import func, select

from common.jsontypes import JsonObject

from ..call import PageCall
from ..models import ConsoleAudit
from .dashboard import visible_stores

SIZE = 100


async def audit_page(call: PageCall) -> JsonObject:
    store = call.store_filter()
    action = call.arg("action")
    page_no = call.int_arg("page", 1, 1, 10**6)
    scope = [ConsoleAudit.store == store] if store is not None else []
    conds = list(scope)
    if action:
        conds.append(ConsoleAudit.action == action)
    async with call.db.session() as s:
        total = int(await s.scalar(select(func.count()).select_from(ConsoleAudit)
                                   .where(*conds)) or 0)
        rows = (await s.scalars(select(ConsoleAudit).where(*conds)
                                .order_by(ConsoleAudit.id.desc())
                                .limit(SIZE).offset((page_no - 1) * SIZE))).all()
        actions = (await s.scalars(select(ConsoleAudit.action).distinct()
                                   .where(*scope).order_by(ConsoleAudit.action))).all()
    query = {k: v for k, v in {"store": store, "action": action}.items() if v}
    return {"rows": rows, "store": store, "action": action, "actions": actions,
            "stores": await visible_stores(call), "total": total, "page_no": page_no,
            "pages": max(1, -(-total // SIZE)), "query": query}
