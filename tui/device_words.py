"""Devices as staff think of them: printer, paper, camera, display, scanner, scale,
network, storage; each with its state in words, the reason and what to do, in Chinese
and English.

The agent's health report (``GET /v1/health``) speaks in component internals
(``state=error reason=cannot open device: [Errno 2] ...``); :func:`staff_devices` turns
it, with the status's link, into rows a shop assistant can act on ("Out of paper — load
a new roll, then press t for a test page"). The raw reason stays available as ``detail``
for support. Pure functions: the Dashboard and the Devices screen use the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.jsontypes import JsonMapping

# Levels, worst last: a row's colour and the dashboard's summary.
OK, OFF, WARN, ERROR = "ok", "off", "warn", "error"

Words = tuple[str, str]  # (zh, en)

NAMES: dict[str, Words] = {
    "printer": ("小票打印机", "Receipt printer"),
    "paper": ("打印纸", "Paper"),
    "camera": ("摄像头", "Camera"),
    "display": ("顾客屏", "Customer display"),
    "scanner": ("扫码枪", "Scanner"),
    "scale": ("电子秤", "Scale"),
    "network": ("网络", "Network"),
    "storage": ("本地存储", "Storage"),
}

_OK: Words = ("正常", "OK")
_NOT_FITTED: Words = ("未安装", "Not fitted")
_NONE: Words = ("—", "—")
_SUPPORT: Words = ("仍不行请联系技术支持", "if it persists, call support")
_UNPLUGGED_HINTS = ("cannot open", "no such file", "not found", "disconnected", "unplugged",
                    "errno 2", "errno 19", "no device", "offline", "closed")


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """One device in staff terms."""

    key: str
    level: str
    state: Words
    reason: Words = _NONE
    action: Words = _NONE
    detail: str = ""  # the technical reason, for support

    def words(self, lang: str) -> tuple[str, str, str, str]:
        """(device, state, reason, action) in ``lang``."""
        i = 1 if lang == "en" else 0
        return NAMES[self.key][i], self.state[i], self.reason[i], self.action[i]


def _unplugged(reason: str) -> bool:
    low = reason.lower()
    return any(h in low for h in _UNPLUGGED_HINTS)


def _entry(health: JsonMapping, key: str) -> JsonMapping | None:
    value = health.get(key)
    if value is None:
        return None
    return value if isinstance(value, dict) else {"state": str(value)}


def _both(zh: str, en: str, extra: Words) -> Words:
    return (f"{zh}；{extra[0]}", f"{en}; {extra[1]}")


def printer_rows(p: JsonMapping | None) -> list[DeviceRow]:
    """The printer and its paper."""
    if p is None or p.get("state") == "off":
        return [DeviceRow("printer", OFF, _NOT_FITTED), DeviceRow("paper", OFF, _NONE)]
    reason = str(p.get("reason") or "")
    paper = str(p.get("paper") or "unknown")
    test = ("装好后按 t 打印测试页", "then press t for a test page")
    if p.get("cover_open"):
        printer = DeviceRow("printer", ERROR, ("纸仓盖打开", "Cover open"),
                            ("打印机盖子没有合上", "the paper cover is not closed"),
                            _both("合上纸仓盖", "close the cover", test), reason)
    elif paper == "out":
        printer = DeviceRow("printer", ERROR, ("缺纸", "Out of paper"),
                            ("纸卷已用完，小票会在装纸后补打", "no paper: receipts print once "
                             "it is loaded"), _both("装入新纸卷", "load a new paper roll", test),
                            reason)
    elif p.get("state") == "error" and (p.get("online") is False or _unplugged(reason)):
        printer = DeviceRow("printer", ERROR, ("未连接", "Not connected"),
                            ("打印机没有响应", "the printer does not answer"),
                            _both("检查电源和USB线，重新插好", "check power and the USB cable, "
                                  "plug it back in", test), reason)
    elif p.get("state") == "error":
        printer = DeviceRow("printer", ERROR, ("故障", "Fault"),
                            ("打印机报告错误", "the printer reports an error"),
                            _both("按 t 打印测试页", "press t for a test page", _SUPPORT), reason)
    elif p.get("state") in ("unknown", "starting"):
        printer = DeviceRow("printer", WARN, ("启动中", "Starting"), detail=reason)
    else:
        jobs = p.get("pending_jobs") or 0
        pending = int(jobs) if isinstance(jobs, int | float | str) else 0
        printer = DeviceRow("printer", OK, _OK, (f"{pending} 张小票待打印",
                                                 f"{pending} receipts waiting")
                            if pending else _NONE)
    paper_row = {
        "ok": DeviceRow("paper", OK, ("充足", "OK")),
        "near_end": DeviceRow("paper", WARN, ("快用完了", "Running low"),
                              ("纸卷将尽", "the roll is nearly used up"),
                              ("准备好新纸卷", "have a new roll ready")),
        "out": DeviceRow("paper", ERROR, ("已用完", "Out"), ("纸卷已用完", "no paper left"),
                         ("装入新纸卷", "load a new paper roll")),
    }.get(paper, DeviceRow("paper", OFF, ("无法检测", "Not reported"),
                           ("此打印机不报告纸量", "this printer does not report paper"),
                           ("留意小票是否打出", "check that receipts come out")))
    return [printer, paper_row]


def camera_row(c: JsonMapping | None) -> DeviceRow:
    """The camera (the scan component's entry; its ``camera`` holds the device itself)."""
    if c is None:
        return DeviceRow("camera", OFF, _NOT_FITTED)
    # The scan component nests the camera device; a flat entry is the camera itself.
    nested = c.get("camera")
    cam = nested if isinstance(nested, dict) else (c if "fps" in c else None)
    if cam is None:
        return DeviceRow("camera", OFF, _NOT_FITTED)
    state, reason = str(cam.get("state") or ""), str(cam.get("reason") or "")
    if state == "error" and _unplugged(reason):
        return DeviceRow("camera", ERROR, ("未连接", "Unplugged"),
                         ("找不到摄像头", "the camera is not found"),
                         ("检查摄像头USB线，拔下重插；按 s 拍照确认",
                          "check the camera's USB cable, unplug and plug it back; press s "
                          "for a snapshot"), reason)
    if state in ("error", "ended", "stopped"):
        return DeviceRow("camera", ERROR, ("没有画面", "No picture"),
                         ("摄像头停止出图", "the camera stopped sending pictures"),
                         _both("按 s 拍照检查", "press s for a snapshot", _SUPPORT), reason)
    fps = cam.get("fps")
    if state == "warning" or (isinstance(fps, int | float | str) and float(fps or 0) < 3):
        return DeviceRow("camera", WARN, ("画面不稳定", "Unsteady"),
                         ("帧率过低，扫码会变慢", "few pictures per second: scanning is slow"),
                         ("擦拭镜头，检查线缆；按 c 做解码检查", "wipe the lens, check the cable; "
                          "press c for a decode check"), reason)
    if state in ("unknown", "starting"):
        return DeviceRow("camera", WARN, ("启动中", "Starting"), detail=reason)
    return DeviceRow("camera", OK, _OK)


def _serial_row(key: str, e: JsonMapping | None, check: Words) -> DeviceRow:
    if e is None or e.get("state") == "off":
        return DeviceRow(key, OFF, _NOT_FITTED)
    state, reason = str(e.get("state") or ""), str(e.get("reason") or "")
    if state == "error" and "garbage" in reason.lower():
        return DeviceRow(key, ERROR, ("通讯错误", "Garbled data"),
                         ("收到乱码，可能波特率不对", "unreadable data: wrong baud rate?"),
                         ("检查设备的波特率设置（9600）", "check the device's baud rate (9600)"),
                         reason)
    if state == "error":
        return DeviceRow(key, ERROR, ("未连接", "Not connected"),
                         ("设备没有响应", "the device does not answer"), check, reason)
    if state in ("unknown", "starting"):
        return DeviceRow(key, WARN, ("启动中", "Starting"), detail=reason)
    return DeviceRow(key, OK, _OK)


def staff_devices(health: JsonMapping, status: JsonMapping | None = None
                  ) -> list[DeviceRow]:
    """Every device in staff terms, from ``/v1/health`` and (for the network) ``/v1/status``."""
    rows = printer_rows(_entry(health, "printer"))
    scans = _entry(health, "camera")
    rows.append(camera_row(scans))
    rows.append(_serial_row("display", _entry(health, "display"),
                            ("检查顾客屏的线缆和电源；按 d 测试", "check the display's cable and "
                             "power; press d to test")))
    serial = scans.get("serial_scanner") if scans else None
    rows.append(_serial_row("scanner", serial if isinstance(serial, dict) else None,
                            ("检查扫码枪的线缆，重新插好", "check the scanner's cable, plug it "
                             "back in")))
    rows.append(_serial_row("scale", _entry(health, "scale"),
                            ("检查电子秤的电源和串口线", "check the scale's power and serial "
                             "cable")))
    found = (status or {}).get("link")
    link: JsonMapping = found if isinstance(found, dict) else {}
    if link.get("disabled"):
        rows.append(DeviceRow("network", OFF, ("未启用", "Not used")))
    elif link.get("connected") is True:
        rows.append(DeviceRow("network", OK, ("在线", "Online")))
    elif link.get("connected") is False:
        rows.append(DeviceRow("network", ERROR, ("离线", "Offline"),
                              ("连不上总部，离线期间只能使用储值支付",
                               "no connection to head office: only stored value works"),
                              ("检查网线或Wi-Fi和路由器", "check the network cable or Wi-Fi "
                               "and the router")))
    else:
        rows.append(DeviceRow("network", OFF, _NONE))
    journal = _entry(health, "journal") or {}
    if journal.get("state") == "error":
        reason = str(journal.get("reason") or "")
        full = "full" in reason.lower() or "space" in reason.lower()
        rows.append(DeviceRow("storage", ERROR,
                              ("存储已满", "Full") if full else ("写入失败", "Write errors"),
                              ("销售无法保存，暂停收银", "sales cannot be saved: selling stops"),
                              ("立即联系技术支持", "call support now"), reason))
    else:
        rows.append(DeviceRow("storage", OK, _OK))
    return rows
