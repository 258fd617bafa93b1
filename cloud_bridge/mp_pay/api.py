"""HTTP routes of mini-program payment: ``POST /api/v1/mp/orders/{order_no}/pay`` (WeChat
JSAPI), ``.../pay/stored-value`` (the member's stored value, with the payment password),
``PUT /api/v1/mp/member/pay-password`` (changing it needs the current one) and
``PUT /api/v1/mp/member/phone`` (needs a fresh wx.login code: :mod:`.reauth`).

The shopper's session (``auth="mp"``) pays only its own order: another shopper's is
404 (order numbers do not leak), a paid or cancelled one 409. The answer is passed to
``wx.requestPayment`` as it is; the order becomes paid when WeChat's notification
arrives at ``/api/v1/pay/notify/wechat``.
"""

from __future__ import annotations

from cloud_bridge import keys
from cloud_bridge.openapi import Call, Route
from common.jsontypes import JsonObject

from . import reauth, service, stored_value
from .schemas import (
    PasswordBody,
    PasswordSet,
    PhoneChangeBody,
    PhoneChanged,
    RequestPayment,
    StoredValuePaid,
    StoredValuePayBody,
)


async def pay_order(call: Call) -> JsonObject:
    """WeChat JSAPI payment of one of my orders: the signed ``wx.requestPayment`` params."""
    return await service.pay(
        call.app[keys.DB_KEY], call.app[keys.SERVICES_KEY].payments,
        order_no=call.path["order_no"], openid=call.openid,
        notify=service.notify_url(call.app[keys.CONFIG_KEY], str(call.request.url.origin())))


async def _member_id(call: Call) -> str:
    from cloud_bridge.members.service import member_of

    async with call.app[keys.DB_KEY].read() as s:
        member = await member_of(s, call.app[keys.CONFIG_KEY].mp.app_id, call.openid)
        return member.id


async def set_pay_password(call: Call) -> JsonObject:
    """Set my payment password; changing it needs the current one."""
    body = call.body_as(PasswordBody)
    await stored_value.set_password(call.app[keys.DB_KEY], await _member_id(call),
                                    body.password, body.current_password)
    return {"set": True}


async def pay_stored_value(call: Call) -> stored_value.StoredValuePayment:
    """Pay one of my orders from my stored value, with my payment password."""
    password = call.body_as(StoredValuePayBody).password
    return await stored_value.pay(
        call.app[keys.DB_KEY], call.app[keys.SERVICES_KEY].payments,
        member_id=await _member_id(call), openid=call.openid,
        order_no=call.path["order_no"], password=password)


LOCKED = "too many wrong payment passwords: locked for a while (Retry-After)"
ROUTES = [
    Route("POST", "/api/v1/mp/orders/{order_no}/pay", pay_order,
          "Pay my order with WeChat Pay (JSAPI)", "mp", auth="mp", response=RequestPayment,
          responses={409: "the order is paid, cancelled or closed: nothing to pay",
                     502: "WeChat Pay refused the prepay or did not answer",
                     503: "WeChat Pay or its notify URL is not configured"}),
    Route("POST", "/api/v1/mp/orders/{order_no}/pay/stored-value", pay_stored_value,
          "Pay my order from my stored value", "mp", auth="mp", body=StoredValuePayBody,
          response=StoredValuePaid,
          responses={403: "wrong payment password", 404: "no such order of mine, or not a member",
                     409: "nothing to pay, no payment password set, or not enough stored value",
                     429: LOCKED, 503: "an open WeChat payment of the order could not be closed"}),
    Route("PUT", "/api/v1/mp/member/pay-password", set_pay_password,
          "Set or change my payment password", "mp", auth="mp", body=PasswordBody,
          response=PasswordSet,
          responses={403: "changing it needs the right current password",
                     404: "not a member", 429: LOCKED}),
    Route("PUT", "/api/v1/mp/member/phone", reauth.change_phone,
          "Change my bound phone number (re-authenticated)", "mp", auth="mp",
          body=PhoneChangeBody, response=PhoneChanged,
          responses={400: "the phone code is invalid or used",
                     403: "the login code is not a fresh one of my WeChat user, or WeChat "
                          "refused the phone number",
                     404: "not a member", 502: "WeChat did not answer",
                     503: "WeChat's APIs are not configured"}),
]
