"""Self-checkout kiosk agent.

Kept deliberately light: the cloud bridge imports the shared contract
(`kiosk_agent.wire`, `kiosk_agent.money`, `kiosk_agent.pricing`) from here
without pulling in OpenCV, serial or printer libraries.
"""

__version__ = "0.1.0"
