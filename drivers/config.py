"""Configuration of each device, validated when the agent's config is loaded.

The agent's :class:`kiosk_agent.config.AgentConfig` holds one section per device;
they live here, beside the drivers that read them, so a driver never imports the agent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DeviceSection(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CameraSection(DeviceSection):
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


class DecoderSection(DeviceSection):
    engines: list[Literal["zxing", "pyzbar"]] = Field(default_factory=lambda: ["zxing", "pyzbar"])
    debounce_s: float = Field(default=1.5, gt=0, description="same code within this counts once")
    confirm_1d: bool = True
    try_harder: bool = True


class PrinterSection(DeviceSection):
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


class ReceiptSection(DeviceSection):
    language: Literal["zh", "en", "both"] = "zh"
    header: str = ""
    footer: str = "谢谢惠顾，欢迎再次光临"
    ereceipt_url: str = "https://mp.example.com/r/{order_no}"


class DisplaySection(DeviceSection):
    kind: Literal["serial", "none"] = "none"
    port: str | None = None
    baudrate: int = 9600
    encoding: Literal["gb18030", "gbk", "utf-8"] = "gb18030"


class ScannerSection(DeviceSection):
    kind: Literal["serial", "none"] = "none"
    port: str | None = None
    baudrate: int = 9600
