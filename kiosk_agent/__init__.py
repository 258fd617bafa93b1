"""Self-checkout kiosk agent: checkout, journal, MQTT link, fleet commands, control API.

What it shares with the cloud lives in :mod:`contract` and :mod:`common`; nothing
outside this package imports it.
"""

from common.version import __version__

__all__ = ["__version__"]
