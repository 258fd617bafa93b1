"""Staff badge revocations from the device shadow, merged into the price book's list.

Head office revokes a badge with ``cloud-bridge staff revoke``; the list reaches kiosks
two ways: with the next price book (``PriceBook.staff_revocations``) and, at once, in
each kiosk's signed desired shadow (``ShadowDesired.staff_revocations``, applied by
:class:`kiosk_agent.shadow.Shadow` and kept in its state file). Badge checks read the
list where it has always been, the agent's price book: this module merges the shadow's
list into the book in memory whenever either changes (a union: a badge revoked by
either stays revoked; a newer book with an older list never un-revokes anything).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, overload

from contract.pricebook import PriceBook, StaffRevocations

if TYPE_CHECKING:
    from .agent import Agent

log = logging.getLogger(__name__)


def merge(a: StaffRevocations | None, b: StaffRevocations | None) -> StaffRevocations | None:
    """The union of two revocation lists (the later time per staff member)."""
    if a is None or b is None:
        return a or b
    subjects = dict(a.subjects)
    for staff, until in b.subjects.items():
        subjects[staff] = max(subjects.get(staff, 0), until)
    return StaffRevocations(version=max(a.version, b.version),
                            token_ids=tuple(sorted(set(a.token_ids) | set(b.token_ids))),
                            subjects=dict(sorted(subjects.items())))


@overload
def with_revocations(book: PriceBook, revs: StaffRevocations | None) -> PriceBook: ...


@overload
def with_revocations(book: PriceBook | None, revs: StaffRevocations | None
                     ) -> PriceBook | None: ...


def with_revocations(book: PriceBook | None, revs: StaffRevocations | None
                     ) -> PriceBook | None:
    """``book`` whose list also holds ``revs`` (the same book when nothing is new)."""
    if book is None or revs is None:
        return book
    merged = merge(book.staff_revocations, revs)
    if merged == book.staff_revocations:
        return book
    # A new model, not model_copy: the book caches its canonical bytes.
    return PriceBook.model_validate({**book.model_dump(), "staff_revocations": merged})


def shadow_revocations(agent: Agent) -> StaffRevocations | None:
    """The list the shadow delivered (None without a shadow or a list)."""
    shadow = agent.runtime.shadow
    return shadow.revocations if shadow is not None else None


def apply_to_agent(agent: Agent, revs: StaffRevocations | None = None) -> None:
    """Merge the shadow's list into the agent's (and the checkout's) price book."""
    revs = revs if revs is not None else shadow_revocations(agent)
    if agent.book is None:  # no book yet: the list joins the first one (catalog's on_book)
        return
    book = with_revocations(agent.book, revs)
    if book is agent.book:
        return
    agent.book = book
    if agent.checkout is not None:
        agent.checkout.set_price_book(book)
    log.info("staff revocation list version %s in force", revs.version if revs else None)
