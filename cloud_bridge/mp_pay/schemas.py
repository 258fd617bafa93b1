"""Response models of the mini-program payment routes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cloud_bridge.openapi import RequestModel
from cloud_bridge.responses import ResponseModel


class RequestPayment(ResponseModel):
    """The parameters of ``wx.requestPayment`` (pass them as they are), and the trade."""

    appId: str
    timeStamp: str = Field(pattern=r"^\d+$")
    nonceStr: str
    package: str = Field(pattern=r"^prepay_id=")
    signType: Literal["RSA"]
    paySign: str
    order_no: str
    out_trade_no: str
    amount: int = Field(description="fen")
    currency: str


class StoredValuePaid(ResponseModel):
    """An order paid from the member's stored value."""

    order_no: str
    status: str
    amount: int = Field(description="fen")
    currency: str
    balance: int = Field(description="the stored value left, fen")


class PasswordSet(ResponseModel):
    set: bool


class PasswordBody(RequestModel):
    password: str = Field(pattern=r"^[0-9]{6}$", description="the new 6-digit payment password")
    current_password: str | None = Field(
        default=None, pattern=r"^[0-9]{6}$", description="needed to change a set password")


class StoredValuePayBody(RequestModel):
    password: str = Field(pattern=r"^[0-9]{6}$", description="the member's payment password")


class PhoneChangeBody(RequestModel):
    login_code: str = Field(min_length=1, max_length=128,
                            description="a fresh wx.login() code: proves the WeChat user is "
                            "present (re-authentication)")
    phone_code: str = Field(min_length=1, max_length=128,
                            description="the code of the getPhoneNumber button for the new number")


class PhoneChanged(ResponseModel):
    phone_bound: bool
    phone_masked: str | None = Field(description="138****1234")
