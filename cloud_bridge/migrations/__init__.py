"""Alembic migrations of the bridge database (async env; SQLite and PostgreSQL).

Run with ``cloud-bridge migrate --config FILE``; :func:`upgrade` is the same in code.
No ``alembic.ini`` is needed: the configuration is built here.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


# Modules outside the domain folders that put tables on ``cloud_bridge.models.Base``;
# every domain's ``models.py`` is found by :mod:`cloud_bridge.domains`.
MODEL_MODULES = ("cloud_bridge.models", "cloud_bridge.catalog")


def import_models() -> None:
    """Import every module with tables so that ``Base.metadata`` is complete."""
    import importlib

    from cloud_bridge.domains import domain_modules

    for name in MODEL_MODULES:
        importlib.import_module(name)
    domain_modules("models")


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("version_locations", str(HERE / "versions"))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` to ``revision`` (blocking; runs its own event loop)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision(s) the database is at (comma-separated), or ``None`` when empty."""
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    async def read() -> str | None:
        from alembic.runtime.migration import MigrationContext

        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                heads = await conn.run_sync(
                    lambda c: MigrationContext.configure(c).get_current_heads())
                return ",".join(sorted(heads)) or None
        finally:
            await engine.dispose()

    return asyncio.run(read())
