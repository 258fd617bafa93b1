"""Kiosk agent configuration: one pydantic model per concern, loaded from TOML.

Secrets (MQTT password, command verification key, staff PIN hash may also come
from here) never live in the TOML: :func:`load_secret` reads them from files in
``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``) or from the environment.
A bad file stops start-up with one line: the field path and the reason.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.config import ConfigError, format_validation_error, load_secret, load_toml_model
from contract import numbers
from contract.member_codes import MAX_OFFLINE_SALE_FEN, MAX_OFFLINE_STORED_VALUE_FEN
from contract.wire.topics import valid_id
from drivers.config import (
    CameraSection,
    DecoderSection,
    DisplaySection,
    DummyPrinterConfig,
    NoDisplayConfig,
    NoScannerConfig,
    PrinterSection,
    ReceiptSection,
    ScannerSection,
    V4l2CameraConfig,
)

__all__ = ["ConfigError", "format_validation_error", "load_secret", "load_toml_model"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _both_languages() -> list[Literal["zh", "en"]]:
    return ["zh", "en"]


class KioskSection(_Section):
    store_id: str = "store1"
    kiosk_id: str = "kiosk1"
    store_name: str = "自助收银演示店"
    store_name_en: str = "Self-checkout Demo Store"
    languages: list[Literal["zh", "en"]] = Field(default_factory=_both_languages, min_length=1)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    timezone: str = "Asia/Shanghai"
    abandoned_cart_s: float = Field(default=120.0, gt=0, description="idle cart is voided after this")

    @model_validator(mode="after")
    def _ids(self) -> KioskSection:
        for name in ("store_id", "kiosk_id"):
            if not valid_id(getattr(self, name)):
                raise ValueError(f"{name} must match [A-Za-z0-9_-]{{1,64}}")
        # Both ids are part of every order and payment number (contract.numbers): they
        # must keep those unique chain-wide and within WeChat Pay's 32 characters.
        problem = numbers.id_problem(self.store_id, self.kiosk_id)
        if problem is not None:
            raise ValueError(problem)
        return self


class JournalSection(_Section):
    path: Path = Path("/var/lib/kiosk-agent/journal.db")
    seed_price_book: Path | None = Field(
        default=None, description="price book file loaded when the journal holds none yet"
    )
    retention_days: float = Field(
        default=90, ge=1, le=3660,
        description="acknowledged sales older than this are archived and pruned")
    prune_every_h: float = Field(
        default=24, ge=0, le=24 * 31, description="automatic pruning period; 0 = off")
    archive_dir: Path | None = Field(
        default=None, description="where pruned sales are archived (default <journal dir>/archive)")


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


# Upper bounds of what the remote shadow (or a config file) may set: offline stored-value
# spending is money the chain may never collect, so even head office cannot lift it past
# these (2,000 yuan per member, 1,000 per sale); the queue bounds keep the disk safe.
# (MAX_OFFLINE_STORED_VALUE_FEN, MAX_OFFLINE_SALE_FEN: one definition in contract, since
# the cloud checks arriving sales against the same bounds.)


class OfflineSection(_Section):
    warn_oldest_unsent_s: float = Field(default=15 * 60, gt=0, le=7 * 24 * 3600)
    max_oldest_unsent_s: float = Field(default=24 * 3600, gt=0, le=7 * 24 * 3600)
    warn_queue_depth: int = Field(default=1000, ge=1, le=1_000_000)
    max_queue_depth: int = Field(default=50000, ge=1, le=1_000_000)
    max_offline_stored_value_fen: int = Field(
        default=50000, ge=0, le=MAX_OFFLINE_STORED_VALUE_FEN,
        description="offline member balance spend cap")
    max_offline_sale_fen: int = Field(default=20000, ge=0, le=MAX_OFFLINE_SALE_FEN,
                                      description="largest sale on stored value while offline")


class TelemetrySection(_Section):
    interval_s: float = Field(default=30.0, gt=0, le=3600)


class PaymentsSection(_Section):
    charge_timeout_s: float = Field(default=30.0, gt=0, description="rpc deadline for payment.charge")
    settle_timeout_s: float = Field(default=90.0, gt=0)
    qr_wait_s: float = Field(default=120.0, gt=0, le=900,
                             description="how long a Native QR (扫码支付) waits for the shopper")


class ControlSection(_Section):
    socket_path: Path = Path("/run/kiosk-agent/control.sock")
    socket_group: str | None = "kiosk-staff"
    staff_pin_hash: str | None = Field(default=None, description="argon2 hash; may come from credentials")
    idle_lock_s: float = Field(default=120.0, gt=0)


class LoggingSection(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    recent_lines: int = Field(default=2000, ge=10)


class ScaleSection(_Section):
    """``[scale]``: a serial scale for loose produce (Mettler Toledo continuous output)."""

    kind: Literal["none", "toledo"] = "none"
    port: str | None = Field(default=None, description="e.g. /dev/ttyUSB0 (kind = toledo)")
    baudrate: int = Field(default=9600, ge=1200, le=115200)
    stable_timeout_s: float = Field(
        default=3.0, gt=0, le=30, description="how long a scan waits for a stable weight")

    @model_validator(mode="after")
    def _port(self) -> ScaleSection:
        if self.kind == "toledo" and not self.port:
            raise ValueError("port is required for kind = toledo")
        return self


class StaffSection(_Section):
    """Signed staff badges (``cloud-bridge staff badge``); the public key is the
    ``badge_pubkey`` credential."""

    badge_max_days: int = Field(
        default=366, ge=1, le=3660,
        description="a badge is refused this long after it was issued, whatever its expiry")
    badge_maintenance: bool = Field(
        default=True, description="a badge scanned at an idle kiosk toggles maintenance")
    free_voids: int = Field(
        default=2, ge=0, le=20,
        description="lines a shopper may remove or lower per cart before a staff badge is "
                    "needed (once the shopper has asked to pay, every void needs one)")


class MembersSection(_Section):
    """Member codes: signed by the bridge, verified with the ``member_pubkey`` credential."""

    legacy_hmac_until: date | None = Field(
        default=None,
        description="migration only: accept old HMAC member codes (M1.) until this date "
                    "while no member_pubkey is installed; unset = never")


class AgentConfig(_Section):
    kiosk: KioskSection = Field(default_factory=KioskSection)
    journal: JournalSection = Field(default_factory=JournalSection)
    mqtt: MqttSection = Field(default_factory=MqttSection)
    outbox: OutboxSection = Field(default_factory=OutboxSection)
    offline: OfflineSection = Field(default_factory=OfflineSection)
    telemetry: TelemetrySection = Field(default_factory=TelemetrySection)
    # Device sections are one model per kind (drivers.config); these are the default kinds.
    camera: CameraSection = Field(default_factory=V4l2CameraConfig)
    decoder: DecoderSection = Field(default_factory=DecoderSection)
    printer: PrinterSection = Field(default_factory=DummyPrinterConfig)
    receipt: ReceiptSection = Field(default_factory=ReceiptSection)
    display: DisplaySection = Field(default_factory=NoDisplayConfig)
    scanner: ScannerSection = Field(default_factory=NoScannerConfig)
    payments: PaymentsSection = Field(default_factory=PaymentsSection)
    control: ControlSection = Field(default_factory=ControlSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)
    staff: StaffSection = Field(default_factory=StaffSection)
    members: MembersSection = Field(default_factory=MembersSection)
    scale: ScaleSection = Field(default_factory=ScaleSection)


def load_config(path: Path | str | None) -> AgentConfig:
    """Load and validate the agent config; ``None`` gives the embedded defaults."""
    if path is None:
        return AgentConfig()
    return load_toml_model(path, AgentConfig)


def member_code_key() -> str | None:
    """The member-code HMAC key from credentials/environment (``member_code_key``)."""
    from contract.codes import MEMBER_CODE_SECRET

    return load_secret(MEMBER_CODE_SECRET)
