"""File storage for attachments behind one small interface, and the image checks.

DESIGN.md "Files": a local directory by default; an S3-compatible store at chain scale
implements the same three methods. Keys are made here (random, no user text), so a key
never climbs out of the directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from pathlib import Path
from typing import Protocol

from cloud_bridge.errors import BridgeError, InvalidRequest

# Below the bridge's 1 MiB request limit (app.client_max_size): the mini-program
# compresses photos (wx.compressImage) before sending them.
MAX_IMAGE_BYTES = 1000 * 1024
# What an image must start with, by type (the declared Content-Type is not trusted).
MAGIC = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),  # and "WEBP" at offset 8, checked below
}


class PayloadTooLarge(BridgeError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(BridgeError):
    status = 415
    title = "Unsupported media type"


def sniff_image(data: bytes) -> str:
    """The image type ``data`` really is, from its first bytes; refuses anything else."""
    if not data:
        raise InvalidRequest("the image is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise PayloadTooLarge(f"an image may have at most {MAX_IMAGE_BYTES} bytes")
    for ctype, prefixes in MAGIC.items():
        if any(data.startswith(p) for p in prefixes):
            if ctype == "image/webp" and data[8:12] != b"WEBP":
                continue
            return ctype
    raise UnsupportedMediaType("only JPEG, PNG, GIF and WebP images are accepted")


class FileStorage(Protocol):
    """Where attachment bytes live."""

    async def put(self, data: bytes, suffix: str) -> str:
        """Store ``data``; the key to read it back."""

    async def get(self, key: str) -> bytes:
        """The bytes stored under ``key`` (``FileNotFoundError`` if none)."""

    async def delete(self, key: str) -> None:
        """Forget ``key`` (no error if it is gone)."""


class LocalFileStorage:
    """A directory, two levels of fan-out by key, files written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not key.replace(".", "").replace("/", "").isalnum() or ".." in key:
            raise FileNotFoundError(key)
        return self.root / key

    async def put(self, data: bytes, suffix: str) -> str:
        name = secrets.token_hex(16)
        key = f"{name[:2]}/{name}{suffix}"

        def write() -> None:
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)

        await asyncio.to_thread(write)
        return key

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)


SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
