"""Alembic migrations of the bridge database (async env; SQLite and PostgreSQL).

Run with ``cloud-bridge migrate --config FILE``; :func:`upgrade` is the same in code.
No ``alembic.ini`` is needed: the configuration is built here.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


# Modules that put tables on ``cloud_bridge.models.Base`` besides the core models.
MODEL_MODULES = ("cloud_bridge.models", "cloud_bridge.payments.models", "cloud_bridge.catalog")


def import_models() -> None:
    """Import every module with tables so that ``Base.metadata`` is complete."""
    import importlib

    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as err:
            if not (err.name and name.startswith(err.name)):
                raise


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("version_locations", str(HERE / "versions"))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (blocking; runs its own event loop)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    async def read() -> str | None:
        from alembic.runtime.migration import MigrationContext

        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: MigrationContext.configure(c).get_current_revision())
        finally:
            await engine.dispose()

    return asyncio.run(read())
