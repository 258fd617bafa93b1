"""Republishing the stores' price books when their campaigns change (a campaign created or
ended): the current book again, under a new version, carrying the campaigns as they are
now (:func:`cloud_bridge.marketing.campaigns.with_campaigns` runs inside every publish).

Its own module because it publishes through :mod:`cloud_bridge.catalog`, which itself
calls into :mod:`.campaigns` while publishing: kept apart, neither imports the other back.
"""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from ..catalog import book_body, current_info, current_infos, parse_upload, publish_book
from ..db import Database
from ..errors import Conflict

# A republished book's version: the uploaded version plus ``.c<n>`` (URL-safe, see catalog).
_SUFFIX = re.compile(r"\.c\d+$")
# Publishing again after another publish of the store took the version (see republish).
REPUBLISH_TRIES = 3


async def republish(db: Database, store: str | None, actor: str) -> list[str]:
    """Publish again the current book of ``store`` (``None``: every store) so that it
    carries the campaigns as they are now; the stores republished."""
    done: list[str] = []
    async with db.read() as s:
        stores = [i.store for i in await current_infos(s) if store is None or i.store == store]
    for st in stores:
        async def work(s: AsyncSession, st: str = st) -> None:
            info = await current_info(s, st)
            found = await book_body(s, st, info.version) if info is not None else None
            if info is None or found is None:
                return
            book = parse_upload(found[1], source=f"{info.store}/{info.version}")
            base = _SUFFIX.sub("", book.version)[:52]
            m = _SUFFIX.search(book.version)
            n = 1 + int(m.group(0)[2:]) if m else 1
            # A new model, not model_copy: the book caches its canonical bytes.
            book = type(book).model_validate({**book.model_dump(), "version": f"{base}.c{n}"})
            await publish_book(s, st, book, f"{actor}:campaigns")

        # Another publish of the store meanwhile took the version: read its book, go on
        # from there (it may have been built before this change of campaigns).
        for _ in range(REPUBLISH_TRIES):
            try:
                await db.transact(work)
            except Conflict:
                continue
            done.append(st)
            break
    return done
