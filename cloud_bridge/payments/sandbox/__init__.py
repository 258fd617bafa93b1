"""Local payment gateways that speak each provider's real protocol (see the modules).

:class:`Sandbox` runs all of them on loopback ports, writes the key material a
client needs to ``keys_dir`` and describes itself as one JSON-friendly manifest
(the output of ``cloud-bridge sandbox``), which the bridge's payment settings load.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from .. import crypto
from .alipay import AlipayGateway, AlipayKeys
from .card import CardGateway
from .common import Gateway
from .ledger import FaultRule, Ledger
from .paypal import PaypalGateway
from .wechat import WechatGateway, WechatKeys

__all__ = ["AlipayGateway", "CardGateway", "FaultRule", "Ledger", "PaypalGateway", "Sandbox",
           "WechatGateway"]

log = logging.getLogger(__name__)


class Sandbox:
    """All gateways on 127.0.0.1; an async context manager.

    ``port`` 0 picks free ports; otherwise wechat, alipay, card and paypal listen on
    ``port`` .. ``port + 3``.
    """

    def __init__(self, keys_dir: Path, port: int = 0, host: str = "127.0.0.1",
                 hold_s: float | None = None, wechat_keys: WechatKeys | None = None,
                 alipay_keys: AlipayKeys | None = None) -> None:
        self.keys_dir = Path(keys_dir)
        self.port = port
        self.host = host
        self.wechat = WechatGateway(keys=wechat_keys, hold_s=hold_s)
        self.alipay = AlipayGateway(keys=alipay_keys, hold_s=hold_s)
        self.card = CardGateway(hold_s=hold_s)
        self.paypal = PaypalGateway(hold_s=hold_s)
        self.gateways: dict[str, Gateway] = {
            "wechat": self.wechat, "alipay": self.alipay, "card": self.card, "paypal": self.paypal,
        }
        self._runners: list[web.AppRunner] = []
        self.manifest: dict = {}

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> dict:
        for i, (name, gw) in enumerate(self.gateways.items()):
            runner = web.AppRunner(gw.make_app(), access_log=None, shutdown_timeout=0.5)
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port + i if self.port else 0)
            await site.start()
            port = runner.addresses[0][1]  # the bound port when 0 was asked
            gw.base_url = f"http://{self.host}:{port}"
            self._runners.append(runner)
            log.info("sandbox %s listening on %s", name, gw.base_url)
        self.manifest = self.write_keys()
        return self.manifest

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    def write_keys(self) -> dict:
        """Write each key a client needs (0600) and return the manifest."""
        d = self.keys_dir
        wk, ak = self.wechat.keys, self.alipay.keys
        w = crypto.write_secret
        return {
            "wechat": {
                "base_url": self.wechat.base_url,
                "mchid": wk.mchid,
                "appid": wk.appid,
                "merchant_serial_no": wk.merchant_serial,
                "platform_public_key_id": wk.public_key_id,
                "merchant_private_key_path": str(w(d / "wechat_merchant_key.pem",
                                                   crypto.private_pem(wk.merchant_key))),
                "platform_public_key_path": str(w(d / "wechat_platform_public_key.pem",
                                                  crypto.public_pem(wk.platform_key))),
                "apiv3_key_path": str(w(d / "wechat_apiv3_key.txt", wk.apiv3_key)),
            },
            "alipay": {
                "base_url": self.alipay.base_url,
                "gateway_url": self.alipay.base_url + "/gateway.do",
                "app_id": ak.app_id,
                "app_private_key_path": str(w(d / "alipay_app_private_key.pem",
                                              crypto.private_pem(ak.app_key))),
                "alipay_public_key_path": str(w(d / "alipay_public_key.pem",
                                                crypto.public_pem(ak.alipay_key))),
            },
            "card": {
                "base_url": self.card.base_url,
                "secret_key_path": str(w(d / "card_secret_key.txt", self.card.secret_key)),
            },
            "paypal": {
                "base_url": self.paypal.base_url,
                "client_id": self.paypal.client_id,
                "client_secret_path": str(w(d / "paypal_client_secret.txt",
                                            self.paypal.client_secret)),
            },
        }

    def all_faults_clear(self) -> None:
        for gw in self.gateways.values():
            gw.ledger.faults.clear()
