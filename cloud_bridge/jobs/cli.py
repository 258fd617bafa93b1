"""``cloud-bridge fleet ...``: build signed bundles and run fleet jobs from the command line.

- ``fleet bundle build --kind software --version 1.5.0 --file wheels/x.whl ... --out B.tar``
  signs with the bridge's command signing key (``--key FILE`` or the credential);
- ``fleet job create --bundle B.tar --target store:S1 --rate 10%`` checks and stores the
  bundle and creates a running job (``--rate`` is the first stage, or a list of stages
  ``5%,25%``; the last stage is always 100 %); the running bridge's scheduler sends it;
- ``fleet job list|show ID|pause ID|resume ID|cancel ID``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy.ext.asyncio import AsyncSession

    from cloud_bridge.config import BridgeConfig
    from cloud_bridge.db import Database
    from common.jsontypes import JsonObject

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fleet = subparsers.add_parser("fleet", help="fleet jobs: staged rollouts of signed bundles")
    sub = fleet.add_subparsers(dest="fleet_command", metavar="WHAT")
    bundle = sub.add_parser("bundle", help="update bundles")
    bsub = bundle.add_subparsers(dest="bundle_command", metavar="ACTION")
    build = bsub.add_parser("build", help="build and sign a bundle")
    build.add_argument("--kind", choices=("software", "config"), required=True)
    build.add_argument("--version", required=True)
    build.add_argument("--file", type=Path, action="append", required=True,
                       help="a wheel (software, stored under wheels/) or kiosk.toml (config)")
    build.add_argument("--requirement", help="what pip installs (default: the first wheel)")
    build.add_argument("--layered", action="store_true",
                       help="software: only the changed wheels; the kiosk installs them over "
                            "the packages of the release it runs")
    build.add_argument("--key", type=Path, help="signing key file (default: the credential)")
    build.add_argument("--config", type=Path, help="bridge config (TOML)")
    build.add_argument("--out", type=Path, required=True)
    build.set_defaults(func=_build)
    bundle.set_defaults(func=lambda args: _usage(bundle))

    job = sub.add_parser("job", help="fleet jobs")
    jsub = job.add_subparsers(dest="job_command", metavar="ACTION")
    create = jsub.add_parser("create", help="upload a bundle and start a staged job")
    create.add_argument("--config", type=Path, help="bridge config (TOML)")
    create.add_argument("--bundle", type=Path, required=True)
    create.add_argument("--target", action="append", required=True,
                        help="store:S1, group:G, kiosk:S1/K1 or all (repeatable)")
    create.add_argument("--rate", default="100%",
                        help="first stage (10%%) or stages (5%%,25%%); 100%% comes last")
    create.add_argument("--max-concurrency", type=int, default=50)
    create.add_argument("--abort-failure-pct", type=int, default=20)
    create.add_argument("--abort-min-finished", type=int, default=1)
    create.add_argument("--abort-health-failures", type=int)
    create.add_argument("--timeout", type=int, default=3600, help="per kiosk, seconds")
    create.add_argument("--by", default="cli")
    create.set_defaults(func=_create)
    for action in ("list", "show", "pause", "resume", "cancel"):
        p = jsub.add_parser(action, help=f"{action} job(s)")
        p.add_argument("--config", type=Path, help="bridge config (TOML)")
        if action != "list":
            p.add_argument("job_id", type=int)
        p.add_argument("--by", default="cli")
        p.set_defaults(func=_manage, action=action)
    job.set_defaults(func=lambda args: _usage(job))
    fleet.set_defaults(func=lambda args: _usage(fleet))


def _usage(parser: argparse.ArgumentParser) -> int:
    """Show a command group's help when no subcommand was given (exit status 2)."""
    parser.print_help()
    return 2


def _fail(message: str) -> int:
    print(f"cloud-bridge fleet: {message}", file=sys.stderr)
    return 1


def _signing_key(args: argparse.Namespace) -> Ed25519PrivateKey | None:
    from cloud_bridge import commands
    from cloud_bridge.config import load_config
    from contract.signing import load_private_key

    if getattr(args, "key", None):
        return load_private_key(args.key)
    return commands.load_signing_key(load_config(args.config))


def _build(args: argparse.Namespace) -> int:
    from contract.bundles import BundleError, build_bundle

    key = _signing_key(args)
    if key is None:
        return _fail("no signing key (--key FILE or the command_signing_key credential)")
    files: dict[str, bytes] = {}
    for path in args.file:
        name = path.name if args.kind == "config" else f"wheels/{path.name}"
        files[name] = path.read_bytes()
    requirement = args.requirement
    if args.kind == "software" and not requirement:
        requirement = next((f"wheels/{p.name}" for p in args.file if p.suffix == ".whl"), None)
    try:
        manifest = build_bundle(args.out, args.kind, args.version, files, key, requirement,
                                layered=args.layered)
    except BundleError as err:
        return _fail(str(err))
    print(f"bundle {manifest.kind} {manifest.version} ({len(files)} file(s)) -> {args.out}")
    return 0


def _run(args: argparse.Namespace,
         work: Callable[[AsyncSession, BridgeConfig, Database], Awaitable[T]]) -> T:
    from cloud_bridge.config import load_config
    from cloud_bridge.db import open_database

    config = load_config(args.config)

    async def run() -> T:
        db = open_database(config)
        try:
            async with db.session() as s:
                return await work(s, config, db)
        finally:
            await db.close()

    return asyncio.run(run())


def _create(args: argparse.Namespace) -> int:
    from cloud_bridge.errors import BridgeError
    from contract.bundles import BundleError

    from . import api, runtime, service
    from .scheduler import parse_stages

    try:
        stages = parse_stages(args.rate)
    except ValueError as err:
        return _fail(str(err))

    async def work(s: AsyncSession, config: BridgeConfig, db: Database) -> JsonObject:
        key = _signing_key(args)
        if key is None:
            raise BundleError("no signing key: bundles cannot be checked")
        sha, manifest = await asyncio.to_thread(
            runtime.keep_bundle, args.bundle, runtime.bundles_dir(db.url), [key.public_key()])
        await service.add_bundle(s, sha, manifest.kind, manifest.version,
                                 args.bundle.stat().st_size, f"cli:{args.by}")
        job = await service.create_job(
            s, bundle_sha256=sha, target=args.target, stages=stages,
            max_concurrency=args.max_concurrency, abort_failure_pct=args.abort_failure_pct,
            abort_min_finished=args.abort_min_finished,
            abort_health_failures=args.abort_health_failures, timeout_s=args.timeout,
            actor=f"cli:{args.by}")
        return api.job_json(job, await service.executions(s, job.id))

    try:
        out = _run(args, work)
    except (BridgeError, BundleError, OSError) as err:
        return _fail(str(getattr(err, "detail", err)))
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


def _manage(args: argparse.Namespace) -> int:
    from cloud_bridge.errors import BridgeError

    from . import api, service

    async def work(s: AsyncSession, config: BridgeConfig,
                   db: Database) -> JsonObject | list[JsonObject]:
        if args.action == "list":
            return [api.job_json(j, await service.executions(s, j.id))
                    for j in await service.list_jobs(s)]
        if args.action == "show":
            job = await service.get_job(s, args.job_id)
        else:
            job = await service.change_state(s, args.job_id, args.action, f"cli:{args.by}")
        execs = await service.executions(s, job.id)
        return {**api.job_json(job, execs), "executions": [api.exec_json(e) for e in execs]}

    try:
        out = _run(args, work)
    except BridgeError as err:
        return _fail(err.detail)
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0
