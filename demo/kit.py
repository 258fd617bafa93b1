"""Props of the demo shopper: code images held up to the camera, the display on a pty,
receipts as text and PNG."""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path
from typing import Any

from . import term

#: Pause after holding a code up: the camera shows it for SPOOL_HOLD_S; a little more
#: keeps two codes from sharing frames.
SHOW_GAP_S = 0.75

_counter = itertools.count(1)


class Camera:
    """Holds codes up to the kiosk's replay camera (its spool folder)."""

    def __init__(self, spool: Path, gap_s: float = SHOW_GAP_S) -> None:
        self.spool = spool
        self.gap_s = gap_s
        spool.mkdir(parents=True, exist_ok=True)

    def show(self, text: str, symbology: str) -> None:
        """Write the code as a clean camera frame (atomically) and wait for it to be seen."""
        import cv2

        from contract import codes
        from drivers.testimages import simple_frame

        module = 5 if symbology == codes.QRCODE else 2.5
        image = simple_frame(text, symbology, module_px=module).astype("uint8")
        name = f"{next(_counter):04d}.png"
        tmp = self.spool / f".{name}"
        cv2.imwrite(str(tmp), image)
        os.replace(tmp, self.spool / name)
        time.sleep(self.gap_s)

    def pending(self) -> int:
        return sum(1 for p in self.spool.iterdir() if not p.name.startswith("."))


class DisplayMonitor:
    """The customer display's pseudo-terminal: decodes what the kiosk shows and prints it.

    The agent opens the slave side (``path``) as its serial VFD; this reads the master
    side in a thread. Alternating zh/en screens are printed once each.
    """

    CLEAR = b"\x0c"
    LINE2 = b"\x1f\x24\x01\x02"

    def __init__(self, echo: bool = True) -> None:
        import tty

        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self.echo = echo
        self.screens: list[tuple[str, str]] = []
        self._recent: list[tuple[str, str]] = []
        self._buf = b""
        self._stop = False
        self._thread = threading.Thread(target=self._read, name="display-pty", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        import select

        while not self._stop:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            self._buf += data
            self._parse()

    def _parse(self) -> None:
        while True:
            start = self._buf.find(self.CLEAR)
            if start < 0:
                self._buf = b""
                return
            body = self._buf[start + 1:]
            split = body.find(self.LINE2)
            if split < 0 or len(body) < split + len(self.LINE2) + 20:
                self._buf = self._buf[start:]
                return
            line1 = body[:split]
            line2 = body[split + len(self.LINE2): split + len(self.LINE2) + 20]
            self._buf = body[split + len(self.LINE2) + 20:]
            self._emit(line1.decode("gb18030", "replace").rstrip(),
                       line2.decode("gb18030", "replace").rstrip())

    def _emit(self, line1: str, line2: str) -> None:
        screen = (line1, line2)
        self.screens.append(screen)
        if screen in self._recent:  # the zh/en alternation of a screen already shown
            return
        self._recent = [*self._recent[-1:], screen]
        if self.echo:
            term.display_line(line1, line2)

    def close(self) -> None:
        self._stop = True
        self._thread.join(1.0)
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


def show_receipt(order: Any, config: Any, out_dir: Path) -> Path:
    """Print the order's receipt as text in the terminal and save it as a PNG."""
    from drivers.receipt import layout_receipt, render_png
    from kiosk_agent.printing import receipt_options

    layout = layout_receipt(order, receipt_options(config))
    term.box(f"小票 Receipt {order.order_no}", [ln for ln in layout.text_lines()])
    path = out_dir / f"receipt-{order.order_no}.png"
    render_png(layout).save(path)
    term.note(f"PNG: {path}")
    return path


def wait_for(predicate: Any, timeout: float, interval: float = 0.1) -> Any:
    """Poll ``predicate()`` until it returns something truthy (returned) or time is up (None)."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            return None
        time.sleep(interval)
