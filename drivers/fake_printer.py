"""A fake network receipt printer (port 9100 style) that speaks enough ESC/POS.

It listens on 127.0.0.1, keeps every byte it is sent and answers real-time status
requests (``DLE EOT n``) the way an Epson-compatible thermal printer does, from a
state that tests and the demo switch: paper ok / near end / out, cover open, offline,
garbage answers, or powered off (the port refuses connections).

Like a real printer, bytes that arrive while it cannot print (paper out, cover open,
offline) wait in its receive buffer and come out when it is ready again; ``printed``
holds what came out, ``received`` everything that arrived.

Run it by hand for the demo: ``python -m drivers.fake_printer --port 9100``.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading
import time
from dataclasses import dataclass

DLE_EOT = b"\x10\x04"
CUT_COMMANDS = (b"\x1dV\x00", b"\x1dV\x01", b"\x1dV0", b"\x1dV1", b"\x1dVA", b"\x1dVB")


@dataclass
class FakePrinterState:
    """Switchable printer state; every field maps to DLE EOT answer bits."""

    paper: str = "ok"  # ok | near_end | out
    cover_open: bool = False
    offline: bool = False
    garbage: bool = False
    silent: bool = False  # never answers status requests (a printer with ASB off and a bad cable)

    def can_print(self) -> bool:
        return self.paper != "out" and not self.cover_open and not self.offline

    def answer(self, n: int) -> bytes:
        """The one-byte answer to ``DLE EOT n``."""
        if self.silent:
            return b""
        if self.garbage:
            return b"\xff"
        value = 0x12
        if n == 1:
            if not self.can_print():
                value |= 0x08
        elif n == 2:
            if self.cover_open:
                value |= 0x04
            if self.paper == "out":
                value |= 0x20
        elif n == 3:
            pass
        elif n == 4:
            if self.paper in ("near_end", "out"):
                value |= 0x0C
            if self.paper == "out":
                value |= 0x60
        return bytes([value])


class FakeNetworkPrinter:
    """Threaded TCP ESC/POS printer on 127.0.0.1; a context manager.

    Args:
        port: 0 picks a free port (read it back from ``.port``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.state = FakePrinterState()
        self.received = bytearray()
        self.printed = bytearray()
        self.status_queries = 0
        self.connections = 0
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._clients: list[socket.socket] = []
        self._stop = threading.Event()

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> FakeNetworkPrinter:
        """Start listening (again, on the same port after :meth:`stop`)."""
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((self.host, self.port))
        srv.listen(8)
        srv.settimeout(0.05)
        self.port = srv.getsockname()[1]
        self._server = srv
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="fake-printer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Power off: close the port and drop every connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        if self._server is not None:
            self._server.close()
            self._server = None
        for client in list(self._clients):
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                client.close()
        self._clients.clear()

    def __enter__(self) -> FakeNetworkPrinter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state switches --------------------------------------------------------
    def set_paper(self, paper: str) -> None:
        """ok | near_end | out; loading paper prints what waited in the buffer."""
        with self._lock:
            self.state.paper = paper
            self._flush_locked()

    def set_cover_open(self, is_open: bool) -> None:
        with self._lock:
            self.state.cover_open = is_open
            self._flush_locked()

    def set_offline(self, offline: bool) -> None:
        with self._lock:
            self.state.offline = offline
            self._flush_locked()

    def set_garbage(self, garbage: bool) -> None:
        with self._lock:
            self.state.garbage = garbage

    # -- observations ----------------------------------------------------------
    @property
    def cuts(self) -> int:
        """How many receipts were cut (printed and finished)."""
        with self._lock:
            data = bytes(self.printed)
        return sum(data.count(cmd) for cmd in CUT_COMMANDS)

    def wait_printed(self, needle: bytes, timeout: float = 5.0) -> bool:
        """Block until ``needle`` shows up in ``printed`` (True) or the timeout (False)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while needle not in self.printed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    # -- the device ------------------------------------------------------------
    def _flush_locked(self) -> None:
        if self.state.can_print() and self._buffer:
            self.printed += self._buffer
            self._buffer.clear()
            self._changed.notify_all()

    def _serve(self) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._clients.append(client)
            threading.Thread(target=self._client, args=(client,), daemon=True).start()

    def _client(self, client: socket.socket) -> None:
        client.settimeout(0.05)
        pending = b""
        while not self._stop.is_set():
            try:
                chunk = client.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            pending = self._feed(client, pending + chunk)
        with contextlib.suppress(OSError):
            client.close()

    def _feed(self, client: socket.socket, data: bytes) -> bytes:
        """Split out DLE EOT n (answered at once, as real-time commands are); keep the rest.

        Returns a trailing partial DLE EOT to prepend to the next chunk.
        """
        out = bytearray()
        answers = bytearray()
        i = 0
        while i < len(data):
            if data[i] == 0x10 and data[i + 1 : i + 2] in (b"\x04", b""):
                if i + 2 >= len(data):
                    break  # incomplete real-time command: wait for more bytes
                n = data[i + 2]
                with self._lock:
                    self.status_queries += 1
                    answers += self.state.answer(n)
                i += 3
                continue
            out.append(data[i])
            i += 1
        rest = data[i:]
        with self._lock:
            self.received += out
            self._buffer += out
            self._flush_locked()
            self._changed.notify_all()
        if answers:
            with contextlib.suppress(OSError):
                client.sendall(bytes(answers))
        return rest


def main(argv: list[str] | None = None) -> int:
    """Run a fake printer until Ctrl-C (demo helper)."""
    parser = argparse.ArgumentParser(description="Fake ESC/POS network printer")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args(argv)
    with FakeNetworkPrinter(port=args.port) as fake:
        print(f"fake printer on 127.0.0.1:{fake.port}", flush=True)
        try:
            while True:
                time.sleep(1)
                print(f"received {len(fake.received)} bytes, {fake.cuts} receipts", flush=True)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
