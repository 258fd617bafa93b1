"""Configuration of each device, validated when the agent's config is loaded.

The agent's :class:`kiosk_agent.config.AgentConfig` holds one section per device;
they live here, beside the drivers that read them, so a driver never imports the agent.

A device section is one model per ``kind`` (a pydantic union keyed on ``kind``), each
with only the fields that kind uses and its required ones required: a network
printer without a ``host`` or a serial display without a ``port`` stops start-up
with ``config error: <file>: printer.network.host: Field required`` instead of
starting and logging (the path names the kind that was chosen). A section without
``kind`` takes the default kind, as before.

``PrinterSection``, ``CameraSection``, ``DisplaySection`` and ``ScannerSection`` are
what the agent's config names: as a field's type they validate the union; called,
``PrinterSection(kind="network", host=...)`` returns the validated per-kind model.
"""

from __future__ import annotations

import functools
import operator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    Tag,
    TypeAdapter,
)
from pydantic_core import core_schema

Encoding = Literal["gb18030", "gbk", "utf-8"]


class DeviceSection(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------- camera
class V4l2CameraConfig(DeviceSection):
    """A real camera through Video4Linux2."""

    kind: Literal["v4l2"] = "v4l2"
    device: str = "/dev/video0"
    width: int = Field(default=640, ge=160, le=4096)
    height: int = Field(default=480, ge=120, le=4096)
    fps: int = Field(default=15, ge=1, le=120)
    watchdog_s: float = Field(default=5.0, gt=0, description="reopen after this long without a frame")


class ReplayCameraConfig(DeviceSection):
    """A folder of images or a video played as a camera (tests, demo)."""

    kind: Literal["replay"] = "replay"
    replay_path: Path
    replay_fps: float = Field(default=10.0, gt=0)
    replay_loop: bool = False
    replay_spool: bool = Field(default=False, description="watch replay_path for new images")


class NoCameraConfig(DeviceSection):
    """No camera: scans come from the serial scanner (or nowhere)."""

    kind: Literal["none"] = "none"


# --------------------------------------------------------------------------- printer
class _PrinterConfig(DeviceSection):
    """What every printer kind has: how receipts are laid out and how often to retry."""

    encoding: Encoding = "gb18030"
    paper_mm: Literal[58, 80] = 80
    retry_s: float = Field(default=5.0, gt=0)


class _EscposPrinterConfig(_PrinterConfig):
    profile: str = "default"  # python-escpos printer profile


class UsbPrinterConfig(_EscposPrinterConfig):
    """A USB printer by vendor and product id."""

    kind: Literal["usb"] = "usb"
    usb_vendor_id: int = Field(ge=0, le=0xFFFF)
    usb_product_id: int = Field(ge=0, le=0xFFFF)


class SerialPrinterConfig(_EscposPrinterConfig):
    """A serial (RS-232 / USB CDC) printer."""

    kind: Literal["serial"] = "serial"
    serial_port: str = Field(min_length=1)
    serial_baudrate: int = 19200


class NetworkPrinterConfig(_EscposPrinterConfig):
    """A network printer on raw TCP (port 9100)."""

    kind: Literal["network"] = "network"
    host: str = Field(min_length=1)
    port: int = Field(default=9100, ge=1, le=65535)


class FilePrinterConfig(_EscposPrinterConfig):
    """Receipts appended to a file or device node (``/dev/usb/lp0``, the demo)."""

    kind: Literal["file"] = "file"
    file_path: Path


class DummyPrinterConfig(_EscposPrinterConfig):
    """A printer that keeps the bytes in memory."""

    kind: Literal["dummy"] = "dummy"


class NoPrinterConfig(_PrinterConfig):
    """No printer: jobs wait with the reason."""

    kind: Literal["none"] = "none"


# --------------------------------------------------------------------------- display, scanner
class SerialDisplayConfig(DeviceSection):
    """A customer pole display (2x20 VFD, ESC/POS) on a serial port."""

    kind: Literal["serial"] = "serial"
    port: str = Field(min_length=1)
    baudrate: int = 9600
    encoding: Encoding = "gb18030"


class NoDisplayConfig(DeviceSection):
    kind: Literal["none"] = "none"


class SerialScannerConfig(DeviceSection):
    """A serial (USB CDC) barcode scanner as a second input."""

    kind: Literal["serial"] = "serial"
    port: str = Field(min_length=1)
    baudrate: int = 9600


class NoScannerConfig(DeviceSection):
    kind: Literal["none"] = "none"


# --------------------------------------------------------------------------- unions
def _union(default_kind: str, *variants: type[DeviceSection]) -> Any:
    """The variants as a union keyed on ``kind``; a section without ``kind`` is ``default_kind``."""

    def kind_of(value: Any) -> str | None:
        if isinstance(value, dict):
            kind = value.get("kind", default_kind)
            return kind if isinstance(kind, str) else None
        return getattr(value, "kind", None)

    kinds = [v.model_fields["kind"].default for v in variants]
    members = [Annotated[v, Tag(k)] for v, k in zip(variants, kinds, strict=True)]
    return Annotated[
        functools.reduce(operator.or_, members),
        Discriminator(kind_of, custom_error_type="invalid_kind",
                      custom_error_message="kind must be one of " + ", ".join(map(repr, kinds))),
    ]


class _KindSection:
    """A device section's union, usable as a field type and as a factory (see module doc)."""

    VARIANTS: ClassVar[tuple[type[DeviceSection], ...]] = ()
    _adapter: ClassVar[TypeAdapter[Any]]
    _type: ClassVar[Any]

    def __init_subclass__(cls, *, default: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._type = _union(default, *cls.VARIANTS)
        cls._adapter = TypeAdapter(cls._type)

    def __new__(cls, **fields: Any) -> Any:
        return cls._adapter.validate_python(fields)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return handler(cls._type)


if TYPE_CHECKING:
    CameraSection = V4l2CameraConfig | ReplayCameraConfig | NoCameraConfig
    PrinterSection = (UsbPrinterConfig | SerialPrinterConfig | NetworkPrinterConfig
                      | FilePrinterConfig | DummyPrinterConfig | NoPrinterConfig)
    DisplaySection = SerialDisplayConfig | NoDisplayConfig
    ScannerSection = SerialScannerConfig | NoScannerConfig
else:
    class CameraSection(_KindSection, default="v4l2"):
        """``[camera]``: ``v4l2`` (default), ``replay`` or ``none``."""

        VARIANTS = (V4l2CameraConfig, ReplayCameraConfig, NoCameraConfig)

    class PrinterSection(_KindSection, default="dummy"):
        """``[printer]``: ``usb``, ``serial``, ``network``, ``file``, ``dummy`` (default), ``none``."""

        VARIANTS = (UsbPrinterConfig, SerialPrinterConfig, NetworkPrinterConfig,
                    FilePrinterConfig, DummyPrinterConfig, NoPrinterConfig)

    class DisplaySection(_KindSection, default="none"):
        """``[display]``: ``serial`` or ``none`` (default)."""

        VARIANTS = (SerialDisplayConfig, NoDisplayConfig)

    class ScannerSection(_KindSection, default="none"):
        """``[scanner]``: ``serial`` or ``none`` (default)."""

        VARIANTS = (SerialScannerConfig, NoScannerConfig)


Engine = Literal["zxing", "pyzbar"]


def _all_engines() -> list[Engine]:
    return ["zxing", "pyzbar"]


class DecoderSection(DeviceSection):
    engines: list[Engine] = Field(default_factory=_all_engines)
    debounce_s: float = Field(default=1.5, gt=0, description="same code within this counts once")
    confirm_1d: bool = True
    try_harder: bool = True


class ReceiptSection(DeviceSection):
    language: Literal["zh", "en", "both"] = "zh"
    header: str = ""
    footer: str = "谢谢惠顾，欢迎再次光临"
    ereceipt_url: str = "https://mp.example.com/r/{order_no}"
