"""Module named in the bridge's ``[rpc] handler_modules``: importing it registers
the payment RPC handlers (see :mod:`cloud_bridge.payments.rpc_handlers`)."""

from . import rpc_handlers  # noqa: F401
