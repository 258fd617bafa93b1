"""The project's version, reported by every program (``--version``, status, OpenAPI)."""

__version__ = "0.1.0"
