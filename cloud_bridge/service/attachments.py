"""Image attachments (chat, after-sales photos, community): checked, stored, looked up."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import NotFound
from cloud_bridge.models import now
from common.jsontypes import JsonObject

from .models import Attachment, Conversation, Message
from .storage import SUFFIX, FileStorage, digest, sniff_image

PURPOSES = ("chat", "aftersales", "community")


async def save_image(session: AsyncSession, storage: FileStorage, data: bytes, *, store: str,
                     owner: str, purpose: str) -> Attachment:
    """Check the bytes are an image of an accepted type and size, store them, record them."""
    ctype = sniff_image(data)
    key = await storage.put(data, SUFFIX[ctype])
    att = Attachment(id="att_" + secrets.token_hex(12), store=store, owner=owner,
                     purpose=purpose, content_type=ctype, size=len(data), sha256=digest(data),
                     storage_key=key, created_at=now(), used=False)
    session.add(att)
    await session.flush()
    return att


async def visible_to_shopper(session: AsyncSession, att: Attachment, actor: str,
                             openid: str) -> bool:
    """The shopper uploaded it, it was sent in one of their conversations, or it is an
    image of a community post the shopper may read."""
    if att.owner == actor:
        return True
    if att.purpose == "community" and att.used:
        from .models_community import CommunityPost

        posts = (await session.scalars(select(CommunityPost).where(
            CommunityPost.openid == att.owner.removeprefix("mp:"),
            CommunityPost.status == "visible"))).all()
        return any(att.id in (p.images or []) for p in posts)
    conv = await session.scalar(
        select(Conversation.id).join(Message, Message.conversation_id == Conversation.id)
        .where(Message.attachment_id == att.id, Conversation.openid == openid).limit(1))
    return conv is not None


async def get_attachment(session: AsyncSession, att_id: str) -> Attachment:
    att = await session.get(Attachment, att_id)
    if att is None:
        raise NotFound(f"attachment {att_id} not found")
    return att


def attachment_json(att: Attachment) -> JsonObject:
    return {"id": att.id, "content_type": att.content_type, "size": att.size,
            "sha256": att.sha256}
