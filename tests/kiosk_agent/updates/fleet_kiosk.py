"""A kiosk for the fleet proof: real MQTT, the real command dispatcher and updater.

``python fleet_kiosk.py ROOT STORE KIOSK BROKER_PORT PUBKEY_PEM``: announces itself online
(retained status), verifies signed commands with :class:`CommandDispatcher`, runs ``job``
with :class:`Updater` and reports on ``cmd/res``. Its health check fails when the config
it now runs says ``store_name = "BAD"`` (a release that breaks receipt rendering). A restart
request exits 75; the test's supervisor starts it again, as systemd would.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import aiomqtt

from contract.signing import NonceCache, load_public_key
from contract.wire.commands import JOB, CommandResult
from contract.wire.presence import KioskStatus
from contract.wire.topics import KioskTopics
from kiosk_agent.commands import CommandDispatcher, CommandRefused
from kiosk_agent.updates.updater import RESTART_EXIT, Paths, Updater, UpdateRefused


async def main(root: Path, store: str, kiosk: str, port: int, pub: str) -> None:
    topics = KioskTopics(store, kiosk)
    link = root / "etc" / "kiosk.toml"
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"{store}-{kiosk}") as client:
        async def report(cmd_id, ok, result):
            res = CommandResult(cmd_id=cmd_id, ok=ok, result=result,
                                error=None if ok else result.get("reason"))
            await client.publish(topics.cmd_res, res.encode(), qos=1)

        async def restart():
            await asyncio.sleep(0.2)  # let the last report leave
            os._exit(RESTART_EXIT)

        async def health(baseline):
            text = link.read_text()
            return "test receipt render failed" if 'store_name = "BAD"' in text else None

        updater = Updater(Paths(root, link), [load_public_key(pub.encode())], report=report,
                          restart=restart, health=health)
        dispatcher = CommandDispatcher(store, kiosk, [load_public_key(pub.encode())],
                                       NonceCache(root / "nonces.json"))

        async def job(args):
            try:
                return await updater.accept(args)
            except UpdateRefused as err:
                raise CommandRefused(str(err)) from err

        dispatcher.register(JOB, job)
        await client.subscribe(topics.cmd, qos=1)
        await client.publish(topics.status, KioskStatus(state="online", version="1").encode(),
                             qos=1, retain=True)
        resumed = asyncio.create_task(updater.resume())
        async for message in client.messages:
            result = await dispatcher.handle(bytes(message.payload))
            await client.publish(topics.cmd_res, result.encode(), qos=1)
        await resumed


if __name__ == "__main__":
    root, store, kiosk, port, pub = sys.argv[1:6]
    asyncio.run(main(Path(root), store, kiosk, int(port), pub))
