"""Kiosk agent configuration: one pydantic model per concern, loaded from TOML.

Secrets (MQTT password, command verification key, staff PIN hash may also come
from here) never live in the TOML: :func:`load_secret` reads them from files in
``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``) or from the environment.
A bad file stops start-up with one line: the field path and the reason.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .wire.topics import valid_id


class ConfigError(Exception):
    """A configuration that cannot be used; ``str()`` is the one line to show."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class KioskSection(_Section):
    store_id: str = "store1"
    kiosk_id: str = "kiosk1"
    store_name: str = "自助收银演示店"
    store_name_en: str = "Self-checkout Demo Store"
    languages: list[Literal["zh", "en"]] = Field(default_factory=lambda: ["zh", "en"], min_length=1)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    timezone: str = "Asia/Shanghai"
    abandoned_cart_s: float = Field(default=120.0, gt=0, description="idle cart is voided after this")

    @model_validator(mode="after")
    def _ids(self) -> KioskSection:
        for name in ("store_id", "kiosk_id"):
            if not valid_id(getattr(self, name)):
                raise ValueError(f"{name} must match [A-Za-z0-9_-]{{1,64}}")
        return self


class JournalSection(_Section):
    path: Path = Path("/var/lib/kiosk-agent/journal.db")
    seed_price_book: Path | None = Field(
        default=None, description="price book file loaded when the journal holds none yet"
    )


class TlsSection(_Section):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure_skip_verify: bool = False


class MqttSection(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = Field(default=None, description="defaults to {store}-{kiosk}")
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    tls: TlsSection = Field(default_factory=TlsSection)


class OutboxSection(_Section):
    window: int = Field(default=64, ge=1, le=10000, description="events in flight at once")
    batch: int = Field(default=200, ge=1, le=10000, description="rows read from the journal at a time")
    ack_timeout_s: float = Field(default=15.0, gt=0, description="resend when no ack by then")


class OfflineSection(_Section):
    warn_oldest_unsent_s: float = Field(default=15 * 60, gt=0)
    max_oldest_unsent_s: float = Field(default=24 * 3600, gt=0)
    warn_queue_depth: int = Field(default=1000, ge=1)
    max_queue_depth: int = Field(default=50000, ge=1)
    max_offline_stored_value_fen: int = Field(default=50000, ge=0, description="offline member balance spend cap")
    max_offline_sale_fen: int = Field(default=20000, ge=0, description="largest sale on stored value while offline")


class TelemetrySection(_Section):
    interval_s: float = Field(default=30.0, gt=0)


class CameraSection(_Section):
    kind: Literal["v4l2", "replay", "none"] = "v4l2"
    device: str = "/dev/video0"
    replay_path: Path | None = None
    replay_fps: float = Field(default=10.0, gt=0)
    replay_loop: bool = False
    replay_spool: bool = Field(default=False, description="watch replay_path for new images")
    width: int = Field(default=640, ge=160, le=4096)
    height: int = Field(default=480, ge=120, le=4096)
    fps: int = Field(default=15, ge=1, le=120)
    watchdog_s: float = Field(default=5.0, gt=0, description="reopen after this long without a frame")


class DecoderSection(_Section):
    engines: list[Literal["zxing", "pyzbar"]] = Field(default_factory=lambda: ["zxing", "pyzbar"])
    debounce_s: float = Field(default=1.5, gt=0, description="same code within this counts once")
    confirm_1d: bool = True
    try_harder: bool = True


class PrinterSection(_Section):
    kind: Literal["usb", "serial", "network", "file", "dummy", "none"] = "dummy"
    usb_vendor_id: int | None = None
    usb_product_id: int | None = None
    serial_port: str | None = None
    serial_baudrate: int = 19200
    host: str | None = None
    port: int = Field(default=9100, ge=1, le=65535)
    file_path: Path | None = None
    profile: str = "default"
    encoding: Literal["gb18030", "gbk", "utf-8"] = "gb18030"
    paper_mm: Literal[58, 80] = 80
    retry_s: float = Field(default=5.0, gt=0)


class ReceiptSection(_Section):
    language: Literal["zh", "en", "both"] = "zh"
    header: str = ""
    footer: str = "谢谢惠顾，欢迎再次光临"
    ereceipt_url: str = "https://mp.example.com/r/{order_no}"


class DisplaySection(_Section):
    kind: Literal["serial", "none"] = "none"
    port: str | None = None
    baudrate: int = 9600
    encoding: Literal["gb18030", "gbk", "utf-8"] = "gb18030"


class ScannerSection(_Section):
    kind: Literal["serial", "none"] = "none"
    port: str | None = None
    baudrate: int = 9600


class PaymentsSection(_Section):
    charge_timeout_s: float = Field(default=30.0, gt=0, description="rpc deadline for payment.charge")
    settle_timeout_s: float = Field(default=90.0, gt=0)


class ControlSection(_Section):
    socket_path: Path = Path("/run/kiosk-agent/control.sock")
    socket_group: str | None = "kiosk-staff"
    staff_pin_hash: str | None = Field(default=None, description="argon2 hash; may come from credentials")
    idle_lock_s: float = Field(default=120.0, gt=0)


class LoggingSection(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    recent_lines: int = Field(default=2000, ge=10)


class AgentConfig(_Section):
    kiosk: KioskSection = Field(default_factory=KioskSection)
    journal: JournalSection = Field(default_factory=JournalSection)
    mqtt: MqttSection = Field(default_factory=MqttSection)
    outbox: OutboxSection = Field(default_factory=OutboxSection)
    offline: OfflineSection = Field(default_factory=OfflineSection)
    telemetry: TelemetrySection = Field(default_factory=TelemetrySection)
    camera: CameraSection = Field(default_factory=CameraSection)
    decoder: DecoderSection = Field(default_factory=DecoderSection)
    printer: PrinterSection = Field(default_factory=PrinterSection)
    receipt: ReceiptSection = Field(default_factory=ReceiptSection)
    display: DisplaySection = Field(default_factory=DisplaySection)
    scanner: ScannerSection = Field(default_factory=ScannerSection)
    payments: PaymentsSection = Field(default_factory=PaymentsSection)
    control: ControlSection = Field(default_factory=ControlSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line: ``source: path.to.field: reason`` (the first error; count of others)."""
    errors = err.errors()
    first = errors[0]
    path = ".".join(str(p) for p in first.get("loc", ())) or "<root>"
    msg = first.get("msg", "invalid")
    if first.get("type") == "extra_forbidden":
        msg = "unknown field"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: {path}: {msg}{more}"


ModelT = TypeVar("ModelT", bound=BaseModel)


def load_toml_model(
    path: Path | str, model: type[ModelT], error: type[Exception] = ConfigError
) -> ModelT:
    """Read the TOML file at ``path`` and validate it into ``model``.

    Any failure (missing, unreadable, not TOML, invalid) raises ``error`` whose
    ``str()`` is the one line to show; the cloud bridge passes its own error type.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise error(f"{path}: file not found") from err
    except tomllib.TOMLDecodeError as err:
        raise error(f"{path}: not valid TOML: {err}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"{path}: cannot read: {err}") from err
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise error(format_validation_error(err, str(path))) from err


def load_config(path: Path | str | None) -> AgentConfig:
    """Load and validate the agent config; ``None`` gives the embedded defaults."""
    if path is None:
        return AgentConfig()
    return load_toml_model(path, AgentConfig)


def load_secret(name: str, env_prefix: str = "KIOSK_") -> str | None:
    """A secret by name: ``$CREDENTIALS_DIRECTORY/<name>`` first, then ``$KIOSK_<NAME>``.

    Returns ``None`` when neither is set. The value is stripped of trailing newlines.
    """
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        candidate = Path(cred_dir) / name
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8").rstrip("\r\n")
    env_name = env_prefix + name.upper().replace("-", "_").replace(".", "_")
    value = os.environ.get(env_name)
    return value.rstrip("\r\n") if value is not None else None
