"""`cloud-bridge migrate` builds the same schema as the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from cloud_bridge.migrations import alembic_config, import_models
from cloud_bridge.models import Base
from tests.conftest import pg_reachable

from .bridge_process import add_user, migrate, write_config
from .conftest import PG_ADMIN_URL, _pg_exec


async def schema_diff(url: str) -> list:
    import_models()
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            def diff(sync_conn):
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": False})
                return compare_metadata(ctx, Base.metadata)

            return await conn.run_sync(diff)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrate_cli_builds_the_model_schema(tmp_path, backend):
    if backend == "sqlite":
        url, drop = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", None
    else:
        if not pg_reachable(PG_ADMIN_URL):
            pytest.skip("PostgreSQL not reachable at " + PG_ADMIN_URL)
        name = f"cbmig_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        asyncio.run(_pg_exec(PG_ADMIN_URL, f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rpartition("/")[0] + "/" + name
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    try:
        cfg = write_config(tmp_path / "bridge.toml", db_url=url, worker="m", mqtt_port=None)
        first = migrate(cfg)
        assert first.returncode == 0, first.stderr
        heads = ScriptDirectory.from_config(alembic_config(url)).get_heads()
        assert f"database at revision {','.join(sorted(heads))}" in first.stdout
        again = migrate(cfg)  # idempotent
        assert again.returncode == 0, again.stderr
        assert asyncio.run(schema_diff(url)) == []
        if backend == "sqlite":
            added = add_user(cfg, "boss", "secret-boss", "head_office")
            assert added.returncode == 0 and "boss (head_office) added" in added.stdout
            again = add_user(cfg, "boss", "secret-boss", "head_office")
            assert again.returncode == 1 and "exists" in again.stderr
    finally:
        if drop:
            asyncio.run(_pg_exec(PG_ADMIN_URL, drop))


def test_bad_config_is_one_line(tmp_path):
    from cloud_bridge.config import ConfigError, load_config

    p = tmp_path / "bad.toml"
    p.write_text("[ingest]\nbatch_max = 0\n[mqtt]\nbogus = 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert "\n" not in str(err.value) and str(p) in str(err.value)


def test_database_url_from_credentials(tmp_path, monkeypatch):
    from cloud_bridge.config import BridgeConfig

    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "database_url").write_text("postgresql+asyncpg://bridge:s3cret@db/bridge\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert BridgeConfig().database_url() == "postgresql+asyncpg://bridge:s3cret@db/bridge"
    (creds / "database_url").unlink()
    (creds / "pgpass").write_text("pw")
    cfg = BridgeConfig()
    cfg.database.url = "postgresql+asyncpg://bridge@db/bridge"
    cfg.database.password_credential = "pgpass"
    assert cfg.database_url() == "postgresql+asyncpg://bridge:pw@db/bridge"
