"""Birthday coupons (生日礼): one coupon of a template for every member whose birthday is
the given day (the opt-in profile's ``birthday``, month and day), channel ``birthday``.

Run once a day (``cloud-bridge marketing birthday-coupons``); a run repeated the same day
gives nobody a second coupon (the template's per-user limit and the claim's unique
``(template, owner, claim_seq)``), so a crashed run is simply run again.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import Conflict, Forbidden
from ..members.models import MemberRecord
from .service import claim, get_template


async def issue_birthday_coupons(s: AsyncSession, template_id: int, day: date
                                 ) -> dict[str, int]:
    """Give each member born on ``day``'s month and day one coupon; counts by outcome."""
    await get_template(s, template_id)
    suffix = f"-{day.month:02d}-{day.day:02d}"
    ids = (await s.scalars(select(MemberRecord.id).where(
        MemberRecord.birthday.like(f"%{suffix}")).order_by(MemberRecord.id))).all()
    out = {"members": len(ids), "issued": 0, "refused": 0}
    for member_id in ids:
        try:
            async with s.begin_nested():
                await claim(s, template_id, member_id, channel="birthday")
            out["issued"] += 1
        except (Conflict, Forbidden):
            out["refused"] += 1  # has it already, or the template ran out
    return out
