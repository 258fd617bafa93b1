"""Pieces every sandbox gateway shares: control routes, held responses, key material."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from aiohttp import web

from .ledger import FaultRule, Ledger, RandomFaults

log = logging.getLogger(__name__)

# How long a "timeout" fault holds the response: longer than any client deadline.
HOLD_S = 30.0


class Gateway:
    """Base of a sandbox gateway: a ledger, fault rules and an aiohttp app."""

    name = "gateway"

    def __init__(self, ledger: Ledger, hold_s: float = HOLD_S) -> None:
        self.ledger = ledger
        self.hold_s = hold_s
        self.base_url = ""

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/__sandbox/faults", self._add_fault)
        app.router.add_delete("/__sandbox/faults", self._clear_faults)
        app.router.add_post("/__sandbox/random", self._random_faults)
        app.router.add_get("/__sandbox/ledger", self._ledger)
        app.router.add_post("/__sandbox/payer", self._payer)
        self.add_routes(app)
        return app

    def add_routes(self, app: web.Application) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def hold(self) -> None:
        """Keep the client waiting past its deadline (a timeout as the client sees it)."""
        await asyncio.sleep(self.hold_s)

    # ------------------------------------------------------------ control API
    async def _add_fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            rule = self.ledger.faults.add(FaultRule(**body))
        except (TypeError, ValueError) as err:
            return web.json_response({"error": str(err)}, status=400)
        return web.json_response(dataclasses.asdict(rule))

    async def _clear_faults(self, request: web.Request) -> web.Response:
        self.ledger.faults.clear()
        return web.json_response({"cleared": True})

    async def _random_faults(self, request: web.Request) -> web.Response:
        body = await request.json()
        import random

        self.ledger.faults.random = RandomFaults(
            rate=float(body.get("rate", 0.2)),
            kinds=tuple(body.get("kinds", ("timeout", "http_500", "userpaying", "systemerror"))),
            rng=random.Random(body.get("seed")),
        )
        return web.json_response({"ok": True})

    async def _ledger(self, request: web.Request) -> web.Response:
        return web.json_response(self.ledger.snapshot())

    async def _payer(self, request: web.Request) -> web.Response:
        body = await request.json()
        code = str(body["auth_code"])
        if "balance" in body:
            self.ledger.set_balance(code, int(body["balance"]))
        if body.get("expired"):
            self.ledger.expire_code(code)
        return web.json_response({"ok": True})


async def form_fields(request: web.Request) -> dict[str, str]:
    """The posted form's text fields (first value of each name, as ``dict(form)`` gives).

    The gateways imitated here take urlencoded forms; a file part is no field of theirs.
    """
    fields: dict[str, str] = {}
    for name, value in (await request.post()).items():
        if isinstance(value, str):
            fields.setdefault(name, value)
    return fields
