"""Helpers of the kiosk update tests: bundles, a tiny wheel, a bundle server with Range."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

from aiohttp import web

from contract.bundles import build_bundle, sha256_file

GOOD_TOML = """[kiosk]
store_id = "s1"
kiosk_id = "k1"
store_name = "{name}"

[mqtt]
enabled = false
"""


def config_bundle(out: Path, key, version: str, name: str = "v") -> dict:
    """A signed config bundle and the job args that point at it (URL filled in later)."""
    body = GOOD_TOML.format(name=name).encode() if name != "BROKEN" else b"[kiosk]\nnope = 1\n"
    build_bundle(out, "config", version, {"kiosk.toml": body}, key)
    return {"kind": "config", "version": version, "sha256": sha256_file(out),
            "size": out.stat().st_size}


def tiny_wheel(version: str) -> tuple[str, bytes]:
    """A pure-Python wheel ``tinykiosk`` whose module knows its version."""
    name = f"tinykiosk-{version}-py3-none-any.whl"
    files = {
        "tinykiosk/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"tinykiosk-{version}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: tinykiosk\nVersion: {version}\n".encode(),
        f"tinykiosk-{version}.dist-info/WHEEL":
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for n, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{n},sha256={digest},{len(data)}")
    record.append(f"tinykiosk-{version}.dist-info/RECORD,,")
    files[f"tinykiosk-{version}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    return name, buf.getvalue()


class BundleServer:
    """Serves files of a directory like the bridge does (FileResponse: Range, 206)."""

    def __init__(self, folder: Path, cut_after: int | None = None) -> None:
        self.folder, self.cut_after = folder, cut_after
        self.ranges: list[str | None] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.ranges.append(request.headers.get("Range"))
        path = self.folder / request.match_info["name"]
        if self.cut_after is not None and request.headers.get("Range") is None:
            # The first try dies half way: a cut link the kiosk must resume from.
            resp = web.StreamResponse(headers={"Content-Length": str(path.stat().st_size)})
            await resp.prepare(request)
            await resp.write(path.read_bytes()[: self.cut_after])
            request.transport.close()
            return resp
        return web.FileResponse(path)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/b/{name}", self.handle)
        return app

