"""``cloud-bridge serve``, ``cloud-bridge migrate`` and ``cloud-bridge admin add-user``.

``serve`` runs one bridge worker: the HTTP API (TCP or a Unix socket) and the
MQTT ingest; start several with distinct ``bridge.worker_id`` to scale out.
It prints one line ``cloud-bridge listening on URL`` once it accepts requests.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import BridgeConfig



def _usage(parser: argparse.ArgumentParser, _args: argparse.Namespace) -> int:
    """A command group run without its subcommand: its help, exit status 2."""
    parser.print_help()
    return 2

def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser("serve", help="run a bridge worker (HTTP API + MQTT ingest)")
    serve.add_argument("--config", help="bridge TOML config (default: embedded defaults)")
    serve.add_argument("--port", type=int, help="override http.port (0 = any free port)")
    serve.add_argument("--worker-id", help="override bridge.worker_id (one per worker)")
    serve.set_defaults(func=cmd_serve)

    migrate = subparsers.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument("--config", help="bridge TOML config")
    migrate.add_argument("--revision", default="heads",
                         help="target revision (default: every branch head)")
    migrate.set_defaults(func=cmd_migrate)

    admin = subparsers.add_parser("admin", help="console users")
    admin_sub = admin.add_subparsers(dest="admin_command", metavar="ADMIN_COMMAND")
    add = admin_sub.add_parser("add-user", help="add a console user (secret hashed with argon2)")
    add.add_argument("--config", help="bridge TOML config")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=["head_office", "store_staff", "finance", "buyer"])
    add.add_argument("--store", help="the store of a store_staff user")
    add.add_argument("--secret-env", metavar="VAR",
                     help="read the secret from this environment variable (else prompt)")
    add.set_defaults(func=cmd_add_user)
    admin.set_defaults(func=functools.partial(_usage, admin))


def _load(args: argparse.Namespace) -> BridgeConfig | None:
    from .config import ConfigError, load_config

    try:
        return load_config(args.config)
    except ConfigError as err:
        print(f"cloud-bridge: {err}", file=sys.stderr)
        return None


def _logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_migrate(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 2
    _logging(config.logging.level)
    from .migrations import current, upgrade

    url = config.database_url()
    upgrade(url, args.revision)
    print(f"database at revision {current(url)}")
    return 0


def cmd_add_user(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 2
    secret = os.environ.get(args.secret_env) if args.secret_env else getpass.getpass("secret: ")
    if not secret:
        print("cloud-bridge: empty secret", file=sys.stderr)
        return 2
    from . import auth
    from .db import open_database
    from .errors import BridgeError

    async def add() -> int:
        async with open_database(config) as db:
            try:
                async with db.session() as s:
                    user = await auth.create_admin_user(s, args.username, secret, args.role,
                                                        args.store)
            except BridgeError as err:
                print(f"cloud-bridge: {err.detail}", file=sys.stderr)
                return 1
        print(f"user {user.username} ({user.role}{', ' + user.store if user.store else ''}) added")
        return 0

    return asyncio.run(add())


def cmd_serve(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 2
    if args.port is not None:
        config.http.port = args.port
    if args.worker_id:
        config.bridge.worker_id = args.worker_id
    _logging(config.logging.level)
    return asyncio.run(serve(config))


async def serve(config: BridgeConfig, stop: asyncio.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``); clean shutdown closes every resource."""
    from aiohttp import web

    from .app import create_app

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    try:
        if config.http.enabled:
            site: web.BaseSite
            if config.http.unix_socket:
                site = web.UnixSite(runner, str(config.http.unix_socket))
            else:
                site = web.TCPSite(runner, config.http.host, config.http.port)
            await site.start()
            for addr in runner.addresses:
                url = f"unix:{addr}" if isinstance(addr, str) else f"http://{addr[0]}:{addr[1]}"
                _use_own_sandbox(config, url)
                print(f"cloud-bridge listening on {url}", flush=True)
        else:
            print("cloud-bridge running without HTTP", flush=True)
        # systemd Type=notify (a no-op without $NOTIFY_SOCKET): ready once serving,
        # watchdog pings while the event loop turns.
        from common.sdnotify import SystemdNotifier, Watchdog

        notifier = SystemdNotifier()
        notifier.ready("cloud-bridge serving")
        async with Watchdog(notifier, require_beat=False):
            await stop.wait()
        notifier.stopping()
    finally:
        await runner.cleanup()
    return 0


def _use_own_sandbox(config: BridgeConfig, url: str) -> None:
    """With ``[mp] sandbox`` and the default code2session URL, log in against ourselves."""
    from .config import MiniProgramSection

    default = MiniProgramSection.model_fields["code2session_url"].default
    if config.mp.sandbox and config.mp.code2session_url == default and url.startswith("http"):
        config.mp.code2session_url = f"{url}/sandbox/sns/jscode2session"
    # The carrier tracker too (its sandbox pushes to the callback, here).
    if config.mp.sandbox and config.delivery.customer is None and url.startswith("http"):
        config.delivery.api_url = f"{url}/sandbox/kuaidi100"
        config.delivery.callback_url = config.delivery.callback_url or (
            f"{url}/api/v1/carrier/kuaidi100/notify")
