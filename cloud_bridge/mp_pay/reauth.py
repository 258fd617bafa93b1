"""Re-authentication of the mini-program shopper before an account change.

A session token proves only that someone holds the token. Changing what protects the
account (the bound phone number here; the payment password needs the current one,
:mod:`.stored_value`) also needs proof that the WeChat user is present now: a fresh
``wx.login()`` code, which the bridge trades at WeChat (``jscode2session``) for the
openid it belongs to. WeChat gives each code once and for five minutes, so a token
copied off a phone, or a code seen earlier, changes nothing.

Every refusal is 403, never 401: the shopper's session stays valid (a 401 would log the
mini-program out), only the change is refused.
"""

from __future__ import annotations

import hmac
import logging

from cloud_bridge import keys
from cloud_bridge.api_mp import app_secret, code2session
from cloud_bridge.config import load_secret
from cloud_bridge.errors import Forbidden, Unauthorized, Unavailable
from cloud_bridge.members import service as members
from cloud_bridge.members import wechat
from cloud_bridge.openapi import Call

from .schemas import PhoneChangeBody

log = logging.getLogger(__name__)


async def require_present(call: Call, login_code: str) -> None:
    """Refuse (403) unless ``login_code`` is a fresh wx.login() code of the caller.

    Raises:
        Forbidden: the code is invalid, used, expired, or another WeChat user's.
        Unavailable / UpstreamError: WeChat's code2session is not configured or down.
    """
    config = call.app[keys.CONFIG_KEY]
    secret = app_secret(config)
    if not secret:
        raise Unavailable("mini-program app secret not configured")
    try:
        data = await code2session(call.app[keys.HTTP_KEY], config.mp.code2session_url,
                                  config.mp.app_id, secret, login_code)
    except Unauthorized:
        raise Forbidden("re-authentication failed: log in with WeChat again") from None
    if not hmac.compare_digest(data["openid"][:64], call.openid or ""):
        log.warning("re-authentication with another WeChat user's login code refused")
        raise Forbidden("re-authentication failed: log in with WeChat again")


async def phone_of(call: Call, phone_code: str) -> str:
    """The phone number behind a getPhoneNumber code (WeChat's phone-number API)."""
    config = call.app[keys.CONFIG_KEY]
    token = load_secret("mp_access_token") or ("sandbox-access-token" if config.mp.sandbox
                                                else None)
    if not token:
        raise Unavailable("no mp_access_token credential for WeChat's phone-number API")
    return await wechat.get_phone_number(call.app[keys.HTTP_KEY],
                                         wechat.phone_url(config.mp.code2session_url),
                                         config.mp.app_id, token, phone_code)


async def change_phone(call: Call) -> dict[str, bool | str | None]:
    """Bind another phone number to my membership, after re-authenticating."""
    b = call.body_as(PhoneChangeBody)
    db, app_id = call.app[keys.DB_KEY], call.app[keys.CONFIG_KEY].mp.app_id
    await require_present(call, b.login_code)
    async with db.read() as s:
        await members.member_of(s, app_id, call.openid)  # 404 before a phone code is spent
    phone = await phone_of(call, b.phone_code)
    async with db.session() as s:
        m = await members.member_of(s, app_id, call.openid)
        await members.change_phone(s, m, phone)
        masked = members.member_json(m, await members.program(s))["phone_masked"]
    return {"phone_bound": True, "phone_masked": masked}
