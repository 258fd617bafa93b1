"""Cloud bridge configuration: one pydantic model per concern, loaded from TOML.

Same rules as the agent (:mod:`common.config`): unknown fields are refused,
a bad file stops start-up with one line (field path and reason), and secrets
(database password, MQTT password, mini-program app secret) come from
``$CREDENTIALS_DIRECTORY`` or the environment (``BRIDGE_<NAME>``), never from TOML.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from common.config import load_secret as _load_secret
from common.config import load_toml_model

from .console.config import ConsoleSection
from .notify.config import NotifySection
from .payments.config import PaymentsSection
from .service.config import DeliverySection


class ConfigError(Exception):
    """A configuration that cannot be used; ``str()`` is the one line to show."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class BridgeSection(_Section):
    worker_id: str = Field(
        default_factory=lambda: f"bridge-{os.getpid()}",
        description="names this worker in logs, MQTT client id and order history",
    )
    timezone: str = Field(default="Asia/Shanghai", description="business day for statistics")
    production: bool = Field(
        default=False, description="a real deployment: refuse to start with sandbox secrets, "
        "sandbox gateways or kiosk credentials over plain http (cloud_bridge.security.startup)")


class DatabaseSection(_Section):
    url: str = Field(
        default="sqlite+aiosqlite:////var/lib/cloud-bridge/bridge.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///PATH or postgresql+asyncpg://...",
    )
    url_credential: str | None = Field(
        default="database_url",
        description="credential whose value, when present, replaces url (a URL with a password)",
    )
    password_credential: str | None = Field(
        default=None, description="credential name holding the database password (inserted into url)"
    )
    pool_size: int = Field(default=5, ge=1, le=200)
    max_overflow: int = Field(default=5, ge=0, le=200)
    echo: bool = False
    sqlite_busy_timeout_ms: int = Field(default=10000, ge=0)
    auto_migrate: bool = Field(default=False, description="run migrations to head at start")


class TlsSection(_Section):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


class MqttSection(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = Field(default="bridge", description="password from credential mqtt_password")
    client_id: str | None = Field(default=None, description="defaults to bridge.worker_id; keep it stable per worker")
    shared: bool = Field(default=True, description="MQTT 5 shared subscriptions ($share/bridge/...)")
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    session_expiry_s: int = Field(
        default=120, ge=0,
        description="persistent session: the broker queues QoS1 while we reconnect; a crashed "
        "worker's share of a shared subscription waits this long (kiosks resend meanwhile)",
    )
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    tls: TlsSection = Field(default_factory=TlsSection)


class IngestSection(_Section):
    batch_max: int = Field(default=500, ge=1, le=10000, description="events per database transaction")
    batch_wait_ms: int = Field(default=20, ge=0, le=5000, description="wait to fill a batch")
    queue_max: int = Field(default=20000, ge=10, description="events buffered before back-pressure")
    retries: int = Field(default=5, ge=0, le=50, description="batch retries on deadlock/lock errors")


class HttpSection(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    unix_socket: Path | None = Field(default=None, description="listen on this socket instead of TCP")
    page_max: int = Field(default=200, ge=1, le=10000)
    public_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="base URL kiosks reach this bridge at (price-book downloads); "
        "default http://{host}:{port}",
    )
    kiosk_auth_dir: Path | None = Field(
        default=None,
        description="provisioning dir of `cloud-bridge kiosk add`: when set, price-book "
        "downloads need HTTP Basic with the kiosk's MQTT username and password",
    )


class AuthSection(_Section):
    admin_token_ttl_s: int = Field(default=12 * 3600, ge=60)
    mp_session_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)


class MiniProgramSection(_Section):
    app_id: str = "wx0000000000000000"
    app_secret_credential: str = Field(default="mp_app_secret", description="credential name")
    code2session_url: str = Field(
        default="https://api.weixin.qq.com/sns/jscode2session",
        description="WeChat jscode2session; point at the bridge's sandbox for tests and demos",
    )
    sandbox: bool = Field(
        default=False, description="serve a local fake of jscode2session at /sandbox/sns/jscode2session"
    )
    price_book: Path | None = Field(
        default=None, description="price book (JSON/CSV) that prices mini-program orders"
    )


class RpcSection(_Section):
    handler_modules: list[str] = Field(
        default_factory=lambda: ["cloud_bridge.payments.rpc_handlers",
                                 "cloud_bridge.selling.rpc_handlers",
                                 "cloud_bridge.marketing.rpc_handlers"],
        description="modules imported at start; importing one registers its RPC handlers",
    )
    concurrency: int = Field(default=64, ge=1, le=10000, description="requests handled at once")


class CommandsSection(_Section):
    signing_key_credential: str = Field(default="command_signing_key", description="Ed25519 key")
    ttl_s: int = Field(default=300, ge=5, description="commands expire after this")


class LoggingSection(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class BridgeConfig(_Section):
    bridge: BridgeSection = Field(default_factory=BridgeSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    mqtt: MqttSection = Field(default_factory=MqttSection)
    ingest: IngestSection = Field(default_factory=IngestSection)
    http: HttpSection = Field(default_factory=HttpSection)
    auth: AuthSection = Field(default_factory=AuthSection)
    mp: MiniProgramSection = Field(default_factory=MiniProgramSection)
    rpc: RpcSection = Field(default_factory=RpcSection)
    commands: CommandsSection = Field(default_factory=CommandsSection)
    payments: PaymentsSection = Field(default_factory=PaymentsSection)
    console: ConsoleSection = Field(default_factory=ConsoleSection)
    delivery: DeliverySection = Field(default_factory=DeliverySection)
    notify: NotifySection = Field(default_factory=NotifySection)
    logging: LoggingSection = Field(default_factory=LoggingSection)

    def database_url(self) -> str:
        """The database URL with the password credential filled in when configured."""
        url = self.database.url
        if self.database.url_credential:
            url = load_secret(self.database.url_credential) or url
        if self.database.password_credential:
            from sqlalchemy.engine import make_url

            secret = load_secret(self.database.password_credential)
            if secret:
                url = make_url(url).set(password=secret).render_as_string(hide_password=False)
        return url


def load_config(path: Path | str | None) -> BridgeConfig:
    """Load and validate the bridge config; ``None`` gives the embedded defaults."""
    if path is None:
        return BridgeConfig()
    return load_toml_model(path, BridgeConfig, ConfigError)


def load_secret(name: str) -> str | None:
    """``$CREDENTIALS_DIRECTORY/<name>``, then ``$BRIDGE_<NAME>``; ``None`` when unset."""
    return _load_secret(name, env_prefix="BRIDGE_")
