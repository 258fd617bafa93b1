"""A software bundle really installed: a wheelhouse into a new virtualenv beside the
running release, switched by the ``current`` symlink, the old release left intact."""

from __future__ import annotations

import os
import subprocess

from contract.bundles import build_bundle
from contract.signing import generate_signing_key
from kiosk_agent.updates.install import InstallError, install
from kiosk_agent.updates.state import switch_link

from .support import tiny_wheel


def test_wheelhouse_installs_into_a_new_venv_and_switches(tmp_path):
    key = generate_signing_key()
    releases = tmp_path / "releases"
    built = {}
    for version in ("1.0.0", "1.1.0"):
        name, data = tiny_wheel(version)
        bundle = tmp_path / f"{version}.tar"
        build_bundle(bundle, "software", version, {f"wheels/{name}": data}, key,
                     requirement=f"wheels/{name}")
        built[version], manifest = install(bundle, releases, [key.public_key()])
        assert manifest.version == version
    current = tmp_path / "current"
    switch_link(current, "releases/1.0.0")
    switch_link(current, "releases/1.1.0")

    def run_current() -> str:
        py = current / "venv" / "bin" / "python"
        return subprocess.run([str(py), "-c", "import tinykiosk; print(tinykiosk.VERSION)"],
                              capture_output=True, text=True, check=True).stdout.strip()

    assert run_current() == "1.1.0"
    switch_link(current, "releases/1.0.0")  # a rollback is the same one rename
    assert run_current() == "1.0.0"
    assert sorted(os.listdir(releases)) == ["1.0.0", "1.1.0"]  # no half-built leftovers


def test_a_wheelhouse_that_does_not_install_leaves_nothing(tmp_path):
    key = generate_signing_key()
    bundle = tmp_path / "b.tar"
    build_bundle(bundle, "software", "2.0.0", {"wheels/broken-2.0-py3-none-any.whl": b"junk"},
                 key, requirement="wheels/broken-2.0-py3-none-any.whl")
    try:
        install(bundle, tmp_path / "releases", [key.public_key()])
    except InstallError as err:
        assert "failed" in str(err)
    else:
        raise AssertionError("a broken wheel installed")
    assert os.listdir(tmp_path / "releases") == []
