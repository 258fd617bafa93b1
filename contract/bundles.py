"""Update bundles: a signed tarball that head office rolls out to kiosks (fleet jobs).

A bundle is an uncompressed tar with, at its root:

- ``manifest.json``: ``{"format": 1, "kind": "software"|"config", "version": "1.4.0",
  "files": {"wheels/x.whl": "<sha256>", ...}, "requirement": "selfcheckout[kiosk]"}``;
  ``"layered": true`` (software only) builds the new virtualenv on top of the running
  release's packages, so the bundle carries only the wheels that changed;
- ``manifest.sig``: the base64 Ed25519 signature of the manifest's exact bytes, made with
  the bridge's command signing key (kiosks verify it with ``command_pubkey``, the key they
  already trust for commands);
- the payload files the manifest lists (a wheelhouse ``wheels/*.whl`` for software,
  ``kiosk.toml`` for configuration), each checked against its sha256 when unpacked.

Shared by the bridge (which verifies an upload before it accepts it) and the kiosk
(which verifies it again before installing), so it lives in :mod:`contract`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
KINDS = ("software", "config")
VERSION_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$"
_VERSION = re.compile(VERSION_PATTERN)
# A manifest is small; a bigger one is not ours (and must not be parsed at length).
MAX_MANIFEST = 64 * 1024


class BundleError(ValueError):
    """A bundle that must not be installed; ``str()`` says why."""


@dataclass(frozen=True, slots=True)
class Manifest:
    kind: str
    version: str
    files: dict[str, str]
    requirement: str | None = None
    layered: bool = False


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _safe_name(name: str) -> str:
    """A member name that stays inside the unpack directory (no absolute path, no ``..``)."""
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts or name != p.as_posix():
        raise BundleError(f"unsafe path in bundle: {name!r}")
    return name


def parse_manifest(raw: bytes) -> Manifest:
    """The manifest's fields, checked (kind, version pattern, sha256 of each file)."""
    try:
        obj = json.loads(raw)
    except ValueError as err:
        raise BundleError(f"manifest is not JSON: {err}") from err
    if not isinstance(obj, dict) or obj.get("format") != 1:
        raise BundleError("manifest format must be 1")
    kind, version, files = obj.get("kind"), obj.get("version"), obj.get("files")
    if kind not in KINDS:
        raise BundleError(f"manifest kind must be one of {', '.join(KINDS)}")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise BundleError("manifest version is missing or malformed")
    if not isinstance(files, dict) or not files:
        raise BundleError("manifest lists no files")
    for name, digest in files.items():
        _safe_name(name)
        if name in (MANIFEST, SIGNATURE) or not re.fullmatch(r"[0-9a-f]{64}", str(digest)):
            raise BundleError(f"manifest entry {name!r} is invalid")
    if kind == "config" and "kiosk.toml" not in files:
        raise BundleError("a config bundle carries kiosk.toml")
    requirement = obj.get("requirement")
    if requirement is not None and not isinstance(requirement, str):
        raise BundleError("requirement must be a string")
    layered = obj.get("layered", False)
    if not isinstance(layered, bool) or (layered and kind != "software"):
        raise BundleError("layered must be true or false, and only for software")
    return Manifest(kind, version, dict(files), requirement, layered)


def build_bundle(out: Path, kind: str, version: str, files: dict[str, bytes],
                 key: Ed25519PrivateKey, requirement: str | None = None,
                 layered: bool = False) -> Manifest:
    """Write a signed bundle of ``files`` ({name in bundle: bytes}) to ``out``."""
    manifest = {"format": 1, "kind": kind, "version": version,
                "files": {n: hashlib.sha256(b).hexdigest() for n, b in sorted(files.items())}}
    if requirement:
        manifest["requirement"] = requirement
    if layered:
        manifest["layered"] = True
    raw = json.dumps(manifest, sort_keys=True, indent=1).encode()
    parsed = parse_manifest(raw)
    sig = base64.b64encode(key.sign(raw))
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [(MANIFEST, raw), (SIGNATURE, sig), *sorted(files.items())]:
            info = tarfile.TarInfo(_safe_name(name))
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return parsed


def _read_member(tar: tarfile.TarFile, name: str, limit: int | None = None) -> bytes:
    try:
        member = tar.getmember(name)
    except KeyError as err:
        raise BundleError(f"bundle has no {name}") from err
    if not member.isfile() or (limit is not None and member.size > limit):
        raise BundleError(f"{name} is not a small regular file")
    fh = tar.extractfile(member)
    assert fh is not None
    return fh.read()


def verify_bundle(path: Path, keys: list[Ed25519PublicKey]) -> Manifest:
    """The manifest of a bundle whose signature one of ``keys`` made; else :class:`BundleError`.

    Checks the signature and that every listed file is present with its sha256 and that
    nothing else is in the tar (no extra files, links or devices).
    """
    try:
        with tarfile.open(path, "r:") as tar:
            raw = _read_member(tar, MANIFEST, MAX_MANIFEST)
            sig_text = _read_member(tar, SIGNATURE, 1024)
            try:
                sig = base64.b64decode(sig_text.strip(), validate=True)
            except (binascii.Error, ValueError) as err:
                raise BundleError("signature is not base64") from err
            for pub in keys:
                try:
                    pub.verify(sig, raw)
                    break
                except InvalidSignature:
                    continue
            else:
                raise BundleError("bad signature (not signed by head office)")
            manifest = parse_manifest(raw)
            seen = set()
            for member in tar.getmembers():
                name = _safe_name(member.name)
                if name in (MANIFEST, SIGNATURE):
                    continue
                if not member.isfile() or name not in manifest.files:
                    raise BundleError(f"unexpected member {name!r}")
                fh = tar.extractfile(member)
                assert fh is not None
                h = hashlib.sha256()
                while block := fh.read(1 << 20):
                    h.update(block)
                if h.hexdigest() != manifest.files[name]:
                    raise BundleError(f"{name}: sha256 does not match the manifest")
                seen.add(name)
            missing = set(manifest.files) - seen
            if missing:
                raise BundleError(f"bundle lacks {sorted(missing)[0]}")
            return manifest
    except (tarfile.TarError, OSError, EOFError) as err:
        raise BundleError(f"not a readable bundle: {err}") from err


def unpack_bundle(path: Path, dest: Path, keys: list[Ed25519PublicKey]) -> Manifest:
    """Verify, then write the payload files (and the manifest) under ``dest``."""
    manifest = verify_bundle(path, keys)
    with tarfile.open(path, "r:") as tar:
        for name in [MANIFEST, *manifest.files]:
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_read_member(tar, name))
    return manifest
