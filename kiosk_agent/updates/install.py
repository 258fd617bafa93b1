"""Download a bundle with resume, and build a release from it beside the running one.

- :func:`download`: HTTP GET with ``Range: bytes=<have>-`` into ``<sha>.tar.part``; the
  file is renamed to ``<sha>.tar`` only when its size and sha256 match the signed job.
- :func:`install`: verify the bundle's signature (head office's key, the kiosk's
  ``command_pubkey``), unpack into ``releases/.<version>.tmp``, build it (software: a
  virtualenv with the wheelhouse installed offline; config: the ``kiosk.toml`` parsed and
  validated by the agent's own loader), then rename it to ``releases/<version>``.

A layered software bundle (``"layered": true``) carries only the wheels that changed: the
new virtualenv gets a ``kiosk-layers.pth`` naming the running release's package directory
(and the ones that release layers on), after its own, so pip finds every unchanged
dependency installed and the bundle's wheels take precedence. A release it layers on must
therefore be kept (releases are never deleted by updates).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING

from contract.bundles import BundleError, Manifest, sha256_file, unpack_bundle

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CHUNK = 1 << 16
# A stalled link must not hold the job forever; the bridge times the execution out too.
HTTP_TIMEOUT_S = 120.0
PIP_TIMEOUT_S = 600.0
LAYERS_PTH = "kiosk-layers.pth"


class InstallError(Exception):
    """A step that failed; ``str()`` is the reason reported to the bridge."""


async def download(url: str, dest: Path, sha256: str, size: int) -> Path:
    """``dest`` complete and checked; resumes a ``.part`` left by a cut download or a kill."""
    import aiohttp

    # Blocking file calls below are local and short (stat, append); the hash is threaded.
    if dest.exists() and await asyncio.to_thread(sha256_file, dest) == sha256:  # noqa: ASYNC240
        return dest
    part = dest.with_name(dest.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    if have > size:
        part.unlink()
        have = 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.get(url, headers=headers) as resp:
            if resp.status == 200:
                have, mode = 0, "wb"  # the server ignored the range: start over
            elif resp.status == 206:
                mode = "ab"
            elif resp.status == 416 and have == size:
                mode = None
            else:
                raise InstallError(f"download: HTTP {resp.status}")
            if mode is not None:
                with open(part, mode) as fh:  # noqa: ASYNC230
                    async for chunk in resp.content.iter_chunked(CHUNK):
                        fh.write(chunk)
                        have += len(chunk)
                        if have > size:
                            raise InstallError("download: larger than the job says")
                    fh.flush()
                    os.fsync(fh.fileno())
    except (aiohttp.ClientError, TimeoutError) as err:
        raise InstallError(f"download: {type(err).__name__}: {err}") from err
    if part.stat().st_size != size:
        raise InstallError(f"download: {part.stat().st_size} of {size} bytes")
    if await asyncio.to_thread(sha256_file, part) != sha256:
        part.unlink()
        raise InstallError("download: sha256 does not match the job")
    os.replace(part, dest)
    return dest


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S,
                          check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise InstallError(f"{Path(cmd[0]).name} failed: {' | '.join(tail)[:250]}")


def running_layers() -> list[str]:
    """The running release's package directory, then those it layers on (real paths)."""
    own = Path(sysconfig.get_path("purelib")).resolve()
    layers = [str(own)]
    pth = own / LAYERS_PTH
    if pth.exists():
        for line in pth.read_text(encoding="utf-8").splitlines():
            if line.strip() and line.strip() not in layers:
                layers.append(line.strip())
    return layers


def _site_packages(venv: Path) -> Path:
    # The new venv is made by this interpreter: same Python version, same layout.
    return venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"


def _retarget_scripts(venv: Path, tmp: Path, final: Path) -> None:
    """Console scripts name their interpreter by path: the final one, not the temporary."""
    old, new = str(tmp).encode(), str(final).encode()
    for script in (venv / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        data = script.read_bytes()
        if old in data:
            script.write_bytes(data.replace(old, new))


def build_software(tmp: Path, manifest: Manifest, final: Path | None = None) -> None:
    """A virtualenv in ``tmp/venv`` with the bundle's wheelhouse installed, offline.

    ``final`` is where ``tmp`` will be renamed to (the scripts' interpreter path).
    """
    venv = tmp / "venv"
    # --system-site-packages: what the OS provides (python3-gi, ...) stays visible, as in the
    # installer's venv; --without-pip: pip runs from this interpreter (--python), faster.
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)])
    if manifest.layered:
        site = _site_packages(venv)
        site.mkdir(parents=True, exist_ok=True)
        (site / LAYERS_PTH).write_text("\n".join(running_layers()) + "\n", encoding="utf-8")
    requirement = manifest.requirement or next(
        (n for n in manifest.files if n.endswith(".whl")), None)
    if requirement is None:
        raise InstallError("software bundle has no wheel")
    if requirement.startswith("wheels/"):
        requirement = str(tmp / requirement)
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
          "--no-index", "--find-links", str(tmp / "wheels"), "--no-cache-dir",
          "--disable-pip-version-check", "--quiet", requirement])
    if final is not None:
        _retarget_scripts(venv, tmp, final)


def check_config(path: Path) -> None:
    """Refuse a ``kiosk.toml`` the agent could not start with (same loader as at start)."""
    from common.config import ConfigError
    from kiosk_agent.config import load_config

    try:
        load_config(path)
    except (ConfigError, ValueError, OSError) as err:
        raise InstallError(f"config invalid: {err}") from err


def install(bundle: Path, releases: Path, keys: list[Ed25519PublicKey]) -> tuple[Path, Manifest]:
    """Build ``releases/<version>`` from ``bundle`` (idempotent: an existing one is kept)."""
    releases.mkdir(parents=True, exist_ok=True)
    tmp = releases / f".{bundle.stem}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # a half-built one from a kill: start over
    try:
        manifest = unpack_bundle(bundle, tmp, keys)
    except BundleError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InstallError(str(err)) from err
    final = releases / manifest.version
    if final.exists():
        shutil.rmtree(tmp, ignore_errors=True)
        return final, manifest
    try:
        if manifest.kind == "software":
            build_software(tmp, manifest, final)
        else:
            check_config(tmp / "kiosk.toml")
    except (InstallError, subprocess.TimeoutExpired) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InstallError(str(err)) from err
    os.replace(tmp, final)  # complete, or not there at all
    return final, manifest
