"""Update bundles: what a kiosk and the bridge accept, and what they refuse."""

from __future__ import annotations

import base64
import io
import json
import tarfile

import pytest

from contract.bundles import BundleError, build_bundle, parse_manifest, unpack_bundle, verify_bundle
from contract.signing import generate_signing_key


def _raw(**fields) -> bytes:
    base = {"format": 1, "kind": "software", "version": "1.2.0",
            "files": {"wheels/a.whl": "0" * 64}}
    return json.dumps({**base, **fields}).encode()


def test_a_layered_bundle_round_trips(tmp_path):
    key = generate_signing_key()
    out = tmp_path / "b.tar"
    made = build_bundle(out, "software", "1.2.0", {"wheels/a.whl": b"wheel"}, key,
                        requirement="a==1.2.0", layered=True)
    assert made.layered and made.requirement == "a==1.2.0"
    got = unpack_bundle(out, tmp_path / "x", [key.public_key()])
    assert got == made
    assert (tmp_path / "x" / "wheels" / "a.whl").read_bytes() == b"wheel"
    plain = build_bundle(tmp_path / "p.tar", "software", "1.2.0", {"wheels/a.whl": b"w"}, key)
    assert plain.layered is False


@pytest.mark.parametrize("fields, reason", [
    ({"layered": "yes"}, "layered must be true or false"),
    ({"kind": "config", "files": {"kiosk.toml": "0" * 64}, "layered": True},
     "only for software"),
    ({"version": "../1"}, "version"),
    ({"files": {"../etc/passwd": "0" * 64}}, "unsafe path"),
    ({"files": {}}, "no files"),
    ({"format": 2}, "format"),
])
def test_a_malformed_manifest_is_refused(fields, reason):
    with pytest.raises(BundleError, match=reason):
        parse_manifest(_raw(**fields))


def test_a_bundle_signed_by_someone_else_or_altered_is_refused(tmp_path):
    key, other = generate_signing_key(), generate_signing_key()
    out = tmp_path / "b.tar"
    build_bundle(out, "software", "1.2.0", {"wheels/a.whl": b"wheel"}, key, layered=True)
    with pytest.raises(BundleError, match="bad signature"):
        verify_bundle(out, [other.public_key()])
    # Same signed manifest, other payload bytes: refused by the file's sha256.
    with tarfile.open(out) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    members["wheels/a.whl"] = b"WHEEL"
    altered = tmp_path / "altered.tar"
    with tarfile.open(altered, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(BundleError, match="sha256 does not match"):
        verify_bundle(altered, [key.public_key()])
    # A manifest that claims "layered" after signing breaks the signature.
    manifest = json.loads(members["manifest.json"])
    manifest["layered"] = False
    members["manifest.json"] = json.dumps(manifest).encode()
    members["wheels/a.whl"] = b"wheel"
    with tarfile.open(altered, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(BundleError, match="bad signature"):
        verify_bundle(altered, [key.public_key()])
    assert base64.b64decode(members["manifest.sig"])  # the signature itself was kept
