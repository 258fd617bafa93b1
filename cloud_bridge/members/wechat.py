"""WeChat's phone-number API (``getuserphonenumber``) and a sandbox that speaks it.

The mini-program's ``<button open-type="getPhoneNumber">`` gives a one-time ``code``;
the bridge exchanges it at ``POST /wxa/business/getuserphonenumber?access_token=...``
with body ``{"code": ...}``. WeChat answers ``phone_info`` with a ``watermark`` whose
``appid`` must be ours (a phone number minted for another app is refused). Error codes
handled as WeChat documents them: ``-1`` busy (retry later: 503), ``40029`` invalid
code (400), ``45011`` rate limited (429), ``40226`` blocked by risk control (403).

The URL is the configured ``[mp] code2session_url`` with ``/sns/jscode2session``
replaced by ``/wxa/business/getuserphonenumber`` (both WeChat endpoints live on the same
host; the sandbox mounts both under ``/sandbox``). No session key is involved, so none
ever leaves the bridge.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

import aiohttp
from pydantic import Field

from common.jsontypes import JsonObject

from .. import keys
from ..errors import Forbidden, InvalidRequest, TooManyRequests, Unavailable, UpstreamError
from ..openapi import Call, QueryModel, RequestModel

log = logging.getLogger(__name__)

PHONE_PATH = "/wxa/business/getuserphonenumber"


def phone_url(code2session_url: str) -> str:
    """The phone-number endpoint on the same WeChat host as ``jscode2session``."""
    base = code2session_url.split("/sns/jscode2session")[0]
    return base + PHONE_PATH


async def get_phone_number(http: aiohttp.ClientSession, url: str, app_id: str,
                           access_token: str, code: str) -> str:
    """The phone number behind a getPhoneNumber ``code`` (watermark appid checked)."""
    try:
        async with http.post(url, params={"access_token": access_token},
                             json={"code": code}, allow_redirects=False) as resp:
            text = await resp.text()
            if resp.status != 200:
                raise UpstreamError(f"getuserphonenumber answered HTTP {resp.status}")
    except aiohttp.ClientError as err:
        raise UpstreamError(f"getuserphonenumber unreachable ({type(err).__name__})") from None
    except TimeoutError:
        raise UpstreamError("getuserphonenumber timed out") from None
    try:
        data = json.loads(text)
        errcode = int(data.get("errcode") or 0)
    except (ValueError, TypeError, AttributeError, RecursionError):
        raise UpstreamError("getuserphonenumber answered something that is not JSON") from None
    if errcode == -1:
        raise Unavailable("WeChat is busy; try again in a moment")
    if errcode == 40029:
        raise InvalidRequest("the phone code is invalid or used")
    if errcode == 45011:
        raise TooManyRequests("too many phone number requests; try again later")
    if errcode == 40226:
        raise Forbidden("WeChat refused this user (risk control)")
    if errcode:
        raise UpstreamError(f"getuserphonenumber error {errcode}")
    info = data.get("phone_info") if isinstance(data, dict) else None
    if not isinstance(info, dict) or not isinstance(info.get("purePhoneNumber"), str):
        raise UpstreamError("getuserphonenumber answered without phone_info")
    mark = info.get("watermark")
    if not isinstance(mark, dict) or mark.get("appid") != app_id:
        log.warning("phone number with a foreign watermark refused")
        raise Forbidden("the phone number was issued for another app")
    phone = info["purePhoneNumber"]
    if not (phone.isdigit() and 5 <= len(phone) <= 20):
        raise UpstreamError("getuserphonenumber answered a malformed number")
    return phone


# --------------------------------------------------------------------------- sandbox


class PhoneQuery(QueryModel):
    access_token: str = Field(default="", max_length=512)


class PhoneBody(RequestModel):
    code: str = Field(default="", max_length=128)


# Sandbox codes that produce each documented error (tests and the demo use them).
SANDBOX_ERRORS = {"busy": -1, "invalid": 40029, "ratelimit": 45011, "risky": 40226}


async def sandbox_getuserphonenumber(call: Call) -> JsonObject:
    """Local fake of WeChat's getuserphonenumber (same body, fields and error codes).

    ``code`` prefixes choose an error (``busy``, ``invalid``, ``ratelimit``, ``risky``),
    ``foreign`` gives a number watermarked for another app; any other code gives a
    stable 11-digit number derived from it.
    """
    code = call.body_as(PhoneBody).code
    if not call.query_as(PhoneQuery).access_token:
        return {"errcode": 41001, "errmsg": "access_token missing"}
    for prefix, errcode in SANDBOX_ERRORS.items():
        if code.startswith(prefix) or not code:
            errcode = errcode if code else 40029
            return {"errcode": errcode, "errmsg": "sandbox error"}
    digits = str(int(hashlib.sha256(code.encode()).hexdigest(), 16))[:9]
    phone = "13" + digits
    appid = "wxforeign000000000" if code.startswith("foreign") else \
        call.app[keys.CONFIG_KEY].mp.app_id
    return {"errcode": 0, "errmsg": "ok", "phone_info": {
        "phoneNumber": phone, "purePhoneNumber": phone, "countryCode": "86",
        "watermark": {"timestamp": int(time.time()), "appid": appid}}}
