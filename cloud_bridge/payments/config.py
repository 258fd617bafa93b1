"""Payment settings of the bridge and how providers are built from them.

Keys come from files (``*_path``): in production those files live under
``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``); for the demo and the tests
they are the files ``cloud-bridge sandbox`` writes, and its printed manifest is
loadable as is: ``PaymentSettings.from_manifest(json.load(f))``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from common.jsontypes import JsonMapping
from contract.tenders import GATEWAY_TENDERS

if TYPE_CHECKING:  # the config is imported by cloud_bridge.config: no aiohttp at load time
    from .providers.base import PaymentProvider

#: Path of a JSON settings file or sandbox manifest; overrides ``[payments] manifest``.
SETTINGS_ENV = "CLOUD_BRIDGE_PAYMENTS"
PROVIDER_KEYS = GATEWAY_TENDERS


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WechatSettings(_Section):
    base_url: str = "https://api.mch.weixin.qq.com"
    mchid: str
    appid: str
    merchant_serial_no: str
    platform_public_key_id: str
    merchant_private_key_path: Path
    platform_public_key_path: Path
    apiv3_key_path: Path


class AlipaySettings(_Section):
    base_url: str | None = None
    gateway_url: str = "https://openapi.alipay.com/gateway.do"
    app_id: str
    app_private_key_path: Path
    alipay_public_key_path: Path


class CardSettings(_Section):
    base_url: str = "https://api.stripe.com"
    secret_key_path: Path


class PaypalSettings(_Section):
    base_url: str = "https://api-m.paypal.com"
    client_id: str
    client_secret_path: Path


class SettlementSettings(_Section):
    query_window_s: float = Field(default=30.0, gt=0, description="poll query this long")
    query_interval_s: float = Field(default=2.0, gt=0, description="first poll interval")
    reverse_attempts: int = Field(default=10, ge=1)
    reverse_interval_s: float = Field(default=1.0, gt=0)
    charge_stale_s: float = Field(default=60.0, gt=0,
                                  description="a 'charging' row older than this was orphaned")


class PaymentSettings(_Section):
    wechat: WechatSettings | None = None
    alipay: AlipaySettings | None = None
    card: CardSettings | None = None
    paypal: PaypalSettings | None = None
    stored_value: bool = True
    request_timeout_s: float = Field(default=10.0, gt=0)
    settlement: SettlementSettings = Field(default_factory=SettlementSettings)

    @classmethod
    def from_manifest(cls, manifest: JsonMapping, **overrides: object) -> PaymentSettings:
        """Settings from the JSON that ``cloud-bridge sandbox`` prints."""
        return cls.model_validate({**{k: manifest[k] for k in
                                      PROVIDER_KEYS if k in manifest},
                                   **overrides})


class PaymentsSection(PaymentSettings):
    """``[payments]`` of the bridge config: providers, settlement and the bridge's jobs.

    Provider entries name their key files (``*_path``); a relative path is looked up
    in ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``). ``manifest`` (or the
    ``$CLOUD_BRIDGE_PAYMENTS`` file, which wins) supplies the providers not set here.
    """

    enabled: bool = Field(default=True, description="serve payments (RPC, notifications, jobs)")
    manifest: Path | None = Field(
        default=None, description="JSON from `cloud-bridge sandbox` (or a settings JSON)")
    settle_interval_s: float = Field(
        default=30.0, ge=0, description="settle unknown payments this often; 0 = never")
    refund_interval_s: float = Field(
        default=10.0, ge=0, description="re-drive open refund requests this often; 0 = never")
    execute_timeout_s: float = Field(
        default=15.0, gt=0, description="a refund request waits this long for its outcome")
    orphan_interval_s: float = Field(
        default=60.0, ge=0,
        description="refund payments their order does not list this often; 0 = never")
    orphan_grace_s: float = Field(
        default=300.0, ge=0, description="a payment counts as orphan this long after it paid")
    # Mini-program (JSAPI) payment, issue 19 (cloud_bridge/mp_pay).
    jsapi_notify_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="WeChat's notify_url for mini-program payments; default: [http] "
        "public_url + /api/v1/pay/notify/wechat")
    mp_pay_timeout_s: float = Field(
        default=900.0, gt=0, description="an unpaid mini-program order is closed after this")
    mp_close_interval_s: float = Field(
        default=60.0, ge=0, description="look for unpaid mini-program orders to close this "
        "often; 0 = never")

    def settings(self) -> PaymentSettings:
        """The provider settings in effect (the env file, then ``manifest``, fill gaps)."""
        data = self.model_dump(include=set(PaymentSettings.model_fields), exclude_none=True)
        path = os.environ.get(SETTINGS_ENV) or self.manifest
        if path:
            extra = json.loads(Path(path).read_text(encoding="utf-8"))
            for key in PROVIDER_KEYS:
                if extra.get(key) and getattr(self, key) is None:
                    data[key] = extra[key]
        return PaymentSettings.model_validate(data)


def _read(path: Path) -> str:
    path = Path(path)
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if not path.is_absolute() and creds:
        path = Path(creds) / path
    return path.read_text()


def build_providers(settings: PaymentSettings) -> dict[str, PaymentProvider]:
    """One client per configured provider, keyed by tender method."""
    from .providers.alipay import AlipayProvider
    from .providers.card import CardProvider
    from .providers.paypal import PaypalProvider
    from .providers.wechat import WechatPayProvider

    t = settings.request_timeout_s
    out: dict[str, PaymentProvider] = {}
    if settings.wechat:
        w = settings.wechat
        out["wechat"] = WechatPayProvider(
            mchid=w.mchid, appid=w.appid, merchant_serial_no=w.merchant_serial_no,
            merchant_private_key=_read(w.merchant_private_key_path),
            platform_public_key=_read(w.platform_public_key_path),
            platform_public_key_id=w.platform_public_key_id,
            apiv3_key=_read(w.apiv3_key_path).strip(), base_url=w.base_url, timeout_s=t)
    if settings.alipay:
        a = settings.alipay
        out["alipay"] = AlipayProvider(
            app_id=a.app_id, app_private_key=_read(a.app_private_key_path),
            alipay_public_key=_read(a.alipay_public_key_path), gateway_url=a.gateway_url,
            timeout_s=t)
    if settings.card:
        out["card"] = CardProvider(base_url=settings.card.base_url,
                                   secret_key=_read(settings.card.secret_key_path).strip(),
                                   timeout_s=t)
    if settings.paypal:
        p = settings.paypal
        out["paypal"] = PaypalProvider(base_url=p.base_url, client_id=p.client_id,
                                       client_secret=_read(p.client_secret_path).strip(),
                                       timeout_s=t)
    return out
