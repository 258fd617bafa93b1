"""The scripted shopper: which codes are held up to the camera, in what order.

Product barcodes come from the demo price book; payment codes are synthetic test
codes in the providers' formats (WeChat 18 digits from 10-15, Alipay 25-30), accepted
only by the local sandboxes. The member code is signed with the demo's member-code key.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from contract import codes

REPO = Path(__file__).resolve().parent.parent
PRICE_BOOK = REPO / "config" / "pricebook.example.json"
STORE = "demo1"  # store + kiosk ids make every order number (contract.numbers)
KIOSK = "kiosk1"
MEMBER_ID = "m1001"
#: Stored value the member tops up at the counter before paying with it (fen).
TOP_UP = 10000
#: The old HMAC member-code key (secret ``member_code_key``): kiosks refuse HMAC codes
#: now; kept so the system demo's kiosk environment stays as installers leave it.
MEMBER_KEY = "demo-member-code-key-0123456789abcdef"
WECHAT_CODE = "134567890123456712"
ALIPAY_CODE = "286543210987654321"

Card = tuple[str, str, str]  # (label for the terminal, code text, symbology)


def set_member_key() -> None:
    """Give the kiosk alone a member key pair of its own (a demo key, made per run): the
    kiosk gets the public half (``member_pubkey``) and the scenario signs the member's
    code with the private half, as the bridge would (kiosks refuse the old HMAC codes)."""
    global member_code_issuer
    from contract.signing import generate_signing_key, public_key_pem
    from contract.tokens import ANY_STORE, issue_token

    key = generate_signing_key()
    os.environ["KIOSK_MEMBER_PUBKEY"] = public_key_pem(key).decode()
    member_code_issuer = lambda: issue_token(  # noqa: E731
        key, kind="member", subject=MEMBER_ID, store=ANY_STORE, ttl_s=180, role="regular/0/0")


#: Issues the member's code as the mini-program shows it. The system demo sets it to the
#: bridge's signer (a code signed with the chain's member key, carrying the level and a
#: balance snapshot; its kiosk holds the public key); the kiosk alone gets a demo key
#: pair from :func:`set_member_key`.
member_code_issuer: Callable[[], str] | None = None


def member_card() -> Card:
    if member_code_issuer is None:
        raise RuntimeError("no member code issuer: call set_member_key() first")
    code = member_code_issuer()
    return (f"会员码 member code ({MEMBER_ID})", code, codes.QRCODE)


def product(barcode: str, name: str) -> Card:
    return (f"商品 {name}  [{barcode}]", barcode, codes.EAN13)


def shopper_one() -> list[Card]:
    """Three products, a member code, a WeChat payment code."""
    return [
        product("6921168509256", "农夫山泉 550ml"),
        product("6902335000127", "可口可乐 330ml"),
        product("6901899000192", "奥利奥 97g"),
        member_card(),
        (f"微信付款码 WeChat payment code ({codes.mask_code(WECHAT_CODE)})", WECHAT_CODE,
         codes.CODE128),
    ]


def shopper_alipay() -> list[Card]:
    return [
        product("6902261336277", "康师傅 红烧牛肉面"),
        product("6923036002357", "蒙牛 纯牛奶 250ml"),
        (f"支付宝付款码 Alipay payment code ({codes.mask_code(ALIPAY_CODE)})", ALIPAY_CODE,
         codes.CODE128),
    ]


def shopper_stored_value() -> list[Card]:
    """A member pays from the stored-value balance (储值) with the action card."""
    return [
        product("6901180000115", "乐事 原味薯片 70g"),
        product("6902961000218", "绿箭 口香糖"),
        member_card(),
        ("操作卡 储值支付 action card: pay with stored value", "KIOSK:PAY:STORED_VALUE",
         codes.QRCODE),
    ]


def shopper_park() -> list[Card]:
    """A cart parked (挂单) for payment at a staffed till."""
    return [
        product("6901098666663", "新鲜鸡蛋 10枚"),
        product("6901098123456", "五常大米 5kg"),
        ("操作卡 挂单 action card: park the order", "KIOSK:PARK", codes.QRCODE),
    ]
