"""The merchant console: server-rendered pages under ``/console/`` (docs/console.md).

A domain adds pages with a ``console/`` folder of its own declaring ``PAGES``
(:class:`~cloud_bridge.console.pages.Page`); see :mod:`.pages`.
"""
