"""Compatibility alias: the control API lives in the :mod:`kiosk_agent.control` package.

Kept so component factory strings (``"kiosk_agent.control_api:control_component"``)
and installed scripts naming this module keep working; new code imports from
:mod:`kiosk_agent.control`. Module constants live in the submodules: patch them there
(e.g. ``kiosk_agent.control.sessions.PIN_LOCKOUT_BASE_S``), not here.
"""

from .control import *  # noqa: F403
from .control import __all__  # noqa: F401
