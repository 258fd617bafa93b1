"""Child process for the sd_notify tests: a real Agent with the control API and the
systemd component, plus a hook that blocks the event loop on SIGUSR1 (a hung main loop)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time

from kiosk_agent.agent import Agent
from kiosk_agent.config import load_config
from kiosk_agent.control import control_component
from kiosk_agent.sdnotify import agent_notify_component


async def hang_on_usr1(stop: asyncio.Event) -> None:
    # time.sleep on the loop thread: exactly what a blocking call in a coroutine does.
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, lambda: time.sleep(3600))
    await stop.wait()


def main() -> None:
    agent = Agent(load_config(sys.argv[1]))
    agent.add_component("control", control_component(agent))
    agent.add_component("systemd", agent_notify_component(agent))
    agent.add_component("hang-hook", hang_on_usr1)
    asyncio.run(agent.run())


if __name__ == "__main__":
    main()
