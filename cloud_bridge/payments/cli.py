"""``cloud-bridge sandbox`` and ``cloud-bridge reconcile``."""

from __future__ import annotations

import argparse
import json
import sys

from .config import PaymentSettings, PaymentsSection


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sb = subparsers.add_parser(
        "sandbox", help="run the local payment gateways (WeChat Pay, Alipay, card, PayPal)")
    sb.add_argument("--port", type=int, default=0,
                    help="first port (wechat; alipay +1, card +2, paypal +3); 0 = free ports")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--keys-dir", default="var/sandbox-keys",
                    help="where the key files a client needs are written (0600)")
    sb.add_argument("--manifest", help="also write the printed JSON to this file")
    sb.set_defaults(func=run_sandbox)

    rc = subparsers.add_parser("reconcile",
                               help="match each provider's daily bill against stored payments")
    rc.add_argument("--date", required=True, help="YYYY-MM-DD (provider bill day, China time)")
    rc.add_argument("--config", help="bridge TOML config (database and [payments] providers)")
    rc.add_argument("--payments", help="payment settings JSON or sandbox manifest "
                                       "(default: the config's [payments], which "
                                       "$CLOUD_BRIDGE_PAYMENTS overrides)")
    rc.set_defaults(func=run_reconcile)


def run_sandbox(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal
    from pathlib import Path

    from .sandbox import Sandbox

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with Sandbox(Path(args.keys_dir), port=args.port, host=args.host) as sb:
            text = json.dumps(sb.manifest, ensure_ascii=False)
            if args.manifest:
                Path(args.manifest).write_text(text + "\n")  # noqa: ASYNC240 - once, at start
            print(text, flush=True)
            await stop.wait()

    asyncio.run(main())
    return 0


def load_settings(path: str | None,
                  section: PaymentsSection | None = None) -> PaymentSettings:
    """Provider settings: ``--payments`` file, else the bridge config's ``[payments]``."""
    from pathlib import Path

    from .config import PROVIDER_KEYS

    if not path:
        settings = section.settings() if section is not None else None
        if settings is None or not any(getattr(settings, k, None) for k in PROVIDER_KEYS):
            raise SystemExit(
                "cloud-bridge reconcile: no providers: set [payments] in the bridge config, "
                "--payments FILE or $CLOUD_BRIDGE_PAYMENTS"
            )
        return settings
    data = json.loads(Path(path).read_text())
    if "base_url" in data.get("wechat", {}) and "settlement" not in data:
        return PaymentSettings.from_manifest(data)
    return PaymentSettings.model_validate(data)


def run_reconcile(args: argparse.Namespace) -> int:
    import asyncio

    from cloud_bridge.config import ConfigError, load_config
    from cloud_bridge.db import open_database

    from . import models  # noqa: F401
    from .reconcile import reconcile_day, summary
    from .service import PaymentService

    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(f"cloud-bridge reconcile: {err}", file=sys.stderr)
        return 2
    settings = load_settings(args.payments, config.payments)

    async def main() -> int:
        async with open_database(config) as db:
            svc = PaymentService.from_settings(db, settings)
            try:
                report = await reconcile_day(svc, args.date)
            finally:
                await svc.close()
        for m in report.mismatches:
            print(m.line())
        print(json.dumps(summary(report)))
        return 0 if report.ok else 1

    return asyncio.run(main())
