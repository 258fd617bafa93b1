"""Releases of this project for the update demo and the update tests.

:func:`project_wheel` packs this source tree as the ``selfcheckout`` wheel of a given
version: the packages and package data ``pyproject.toml`` names, its dependencies and
console scripts, ``common/version.py`` saying the version. It stands in for
``pip wheel --no-deps .`` (what an operator runs), which would need the build backend
from an index; the installed result is the same. ``patches`` replace or extend files, e.g.
a release whose receipt renderer is broken.

:func:`first_release` builds a kiosk's first release the way an update builds the next
one (the same :func:`kiosk_agent.updates.install.install`), as the installer would have,
and points ``current`` at it.
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import hashlib
import shutil
import tomllib
import zipfile
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parent.parent
NAME = "selfcheckout"


def _packages(project: dict[str, Any]) -> list[str]:
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*") for pattern in include})


@functools.cache
def _source() -> tuple[dict[str, Any], dict[str, bytes]]:
    """``pyproject.toml`` and the packaged files, read once per process: every release a
    process builds comes from the same snapshot of the tree (it may be edited meanwhile)."""
    pyproject = tomllib.loads((SRC / "pyproject.toml").read_text(encoding="utf-8"))
    data_patterns = pyproject["tool"]["setuptools"]["package-data"]["*"]
    files: dict[str, bytes] = {}
    for package in _packages(pyproject):
        for path in sorted((SRC / package).rglob("*")):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            if path.suffix == ".py" or any(fnmatch.fnmatch(path.name, p) for p in data_patterns):
                files[path.relative_to(SRC).as_posix()] = path.read_bytes()
    return pyproject, files


def source_text(name: str) -> str:
    """A packaged file as the releases of this process see it (to patch a bad release)."""
    return _source()[1][name].decode("utf-8")


def project_wheel(version: str, out_dir: Path, patches: dict[str, str] | None = None) -> Path:
    """``out_dir/selfcheckout-<version>-py3-none-any.whl`` of this tree at ``version``."""
    pyproject, snapshot = _source()
    meta = pyproject["project"]
    files = dict(snapshot)
    files["common/version.py"] = (
        '"""The project\'s version, reported by every program."""\n\n'
        f'__version__ = "{version}"\n').encode()
    for name, text in (patches or {}).items():
        files[name] = text.encode()
    info = f"{NAME}-{version}.dist-info"
    lines = ["Metadata-Version: 2.1", f"Name: {NAME}", f"Version: {version}",
             f"Requires-Python: {meta['requires-python']}"]
    lines += [f"Requires-Dist: {d}" for d in meta["dependencies"]]
    for extra, deps in meta["optional-dependencies"].items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {d}; extra == "{extra}"' for d in deps]
    files[f"{info}/METADATA"] = ("\n".join(lines) + "\n").encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: demo.release\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{info}/entry_points.txt"] = ("[console_scripts]\n" + "".join(
        f"{k} = {v}\n" for k, v in meta["scripts"].items())).encode()
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{NAME}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return wheel


def software_bundle(out: Path, version: str, key: Any,
                    patches: dict[str, str] | None = None) -> Path:
    """A signed, layered software bundle of this project at ``version``."""
    from contract.bundles import build_bundle

    wheel = project_wheel(version, out.parent / f"wheels-{version}", patches)
    build_bundle(out, "software", version, {f"wheels/{wheel.name}": wheel.read_bytes()}, key,
                 requirement=f"{NAME}[kiosk]=={version}", layered=True)
    return out


def first_release(root: Path, version: str, key: Any) -> Path:
    """``root/releases/<version>`` built from a bundle, ``root/current`` pointing at it, and
    the boot guard copied to ``root/boot-guard/`` (the installer's step 3)."""
    from kiosk_agent.updates.install import install
    from kiosk_agent.updates.state import switch_link

    bundle = software_bundle(root / "installer" / f"{version}.tar", version, key)
    release, _ = install(bundle, root / "releases", [key.public_key()])
    switch_link(root / "current", str(release.relative_to(root)))
    guard = root / "boot-guard"
    guard.mkdir(exist_ok=True)
    for name in ("guard.py", "state.py"):
        shutil.copy2(SRC / "kiosk_agent" / "updates" / name, guard / name)
    return release


def kiosk_config(home: Path, store: str, kiosk: str, broker_port: int) -> Path:
    """``home/kiosk.toml`` of a kiosk on fakes (no camera or display, a file printer)."""
    path = home / "kiosk.toml"
    path.write_text(f"""# A kiosk of the update demo and tests (fakes for the devices).
[kiosk]
store_id = "{store}"
kiosk_id = "{kiosk}"

[journal]
path = "{home / 'journal.db'}"

[mqtt]
host = "127.0.0.1"
port = {broker_port}
keepalive_s = 5

[camera]
kind = "none"

[printer]
kind = "file"
file_path = "{home / 'printer.bin'}"

[display]
kind = "none"

[control]
socket_path = "{home / 'control.sock'}"
socket_group = ""
""", encoding="utf-8")
    return path
