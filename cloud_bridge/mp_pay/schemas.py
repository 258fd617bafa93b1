"""Response models of the mini-program payment routes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

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
