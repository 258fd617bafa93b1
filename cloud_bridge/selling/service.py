"""Selling rules: revoking staff badges and the revocation list kiosks receive."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.models import now
from contract.pricebook import PriceBook, StaffRevocations

from .models import StaffBadgeRevocation

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


async def revoke_badge(session: AsyncSession, staff_id: str, *, by: str,
                       token_id: str | None = None, store: str | None = None,
                       reason: str | None = None) -> StaffBadgeRevocation:
    """Revoke one badge (``token_id``) or every badge of ``staff_id`` issued until now."""
    row = StaffBadgeRevocation(staff_id=staff_id, token_id=token_id, store=store,
                               reason=reason, revoked_by=by[:128], revoked_at=now())
    session.add(row)
    await session.flush()
    return row


async def revocation_list(session: AsyncSession) -> StaffRevocations | None:
    """Every revocation of the chain, as pushed with price books (``None`` when empty)."""
    rows = (await session.scalars(select(StaffBadgeRevocation)
                                  .order_by(StaffBadgeRevocation.id))).all()
    if not rows:
        return None
    subjects: dict[str, int] = {}
    token_ids: set[str] = set()
    for r in rows:
        if r.token_id:
            token_ids.add(r.token_id)
        else:
            subjects[r.staff_id] = max(subjects.get(r.staff_id, 0), int(r.revoked_at.timestamp()))
    version = int(await session.scalar(select(func.max(StaffBadgeRevocation.id))) or 0)
    return StaffRevocations(version=version, token_ids=tuple(sorted(token_ids)),
                            subjects=dict(sorted(subjects.items())))


async def with_revocations(session: AsyncSession, book: PriceBook) -> PriceBook:
    """``book`` carrying the chain's current revocation list (what catalog publishing stores)."""
    revs = await revocation_list(session)
    if revs is None or book.staff_revocations == revs:
        return book
    return PriceBook.model_validate({**book.model_dump(), "staff_revocations": revs})


async def revocation_shadows(session: AsyncSession, key: Ed25519PrivateKey,
                             stores: list[str] | None = None
                             ) -> list[tuple[str, bytes]]:
    """A new signed desired shadow for every kiosk (of ``stores``), carrying the chain's
    revocation list, recorded as each kiosk's desired state: ``(topic, payload)`` to
    publish retained. The kiosk's desired configuration is kept as it was; the version
    goes above both what was desired and what the kiosk reported applied."""
    from sqlalchemy import select

    from cloud_bridge import fleet
    from cloud_bridge.models import Kiosk
    from contract.signing import sign_shadow
    from contract.wire.shadow import ShadowDesired
    from contract.wire.topics import KioskTopics

    revs = await revocation_list(session)
    if revs is None:
        return []
    q = select(Kiosk).order_by(Kiosk.store, Kiosk.kiosk)
    if stores is not None:
        q = q.where(Kiosk.store.in_(stores))
    out = []
    for k in (await session.scalars(q)).all():
        version = max(k.desired_version or 0, k.config_version or 0) + 1
        config = dict(k.desired or {})
        await fleet.record_desired(session, k.store, k.kiosk, version, config)
        desired = sign_shadow(ShadowDesired(
            version=version, config=config, store=k.store, kiosk=k.kiosk,
            staff_revocations=revs.model_dump(mode="json")), key)
        out.append((KioskTopics(k.store, k.kiosk).shadow_desired, desired.encode()))
    return out
