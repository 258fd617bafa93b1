"""The package boundaries: only ``contract`` and ``common`` are shared between programs.

Every import statement of every module (``TYPE_CHECKING`` blocks and function-level
imports included) is read with :mod:`ast`, so a forbidden import fails here before it
can tie two programs together. Rules (DESIGN.md, "Programs and packages"):

- ``contract`` and ``common`` import no program; ``contract`` does not import ``common``
  plumbing either except the version;
- ``drivers`` imports only ``contract``/``common`` (never the agent);
- ``kiosk_agent`` never imports ``cloud_bridge`` or ``tui``; ``cloud_bridge`` never imports
  ``kiosk_agent``, ``drivers`` or ``tui``;
- ``tui`` imports only ``contract``/``common`` and itself (it talks to the agent through
  its control API client, ``tui/client.py``);
- nothing shipped imports ``tests``; ``bench`` and ``demo`` import the project, not the tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = ("contract", "common", "drivers", "kiosk_agent", "cloud_bridge", "tui")

# package -> top-level project packages it must not import
FORBIDDEN: dict[str, set[str]] = {
    "contract": {"common", "drivers", "kiosk_agent", "cloud_bridge", "tui", "tests", "demo"},
    "common": {"contract", "drivers", "kiosk_agent", "cloud_bridge", "tui", "tests", "demo"},
    "drivers": {"kiosk_agent", "cloud_bridge", "tui", "tests", "demo"},
    "kiosk_agent": {"cloud_bridge", "tui", "tests", "demo"},
    "cloud_bridge": {"kiosk_agent", "drivers", "tui", "tests", "demo"},
    "tui": {"kiosk_agent", "drivers", "cloud_bridge", "tests", "demo"},
    "bench": {"tests"},
    "demo": {"tests"},
}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """Top-level packages imported by ``path`` (absolute imports), with line numbers."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update((alias.name.split(".")[0], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.module.split(".")[0], node.lineno))
    return found


def violations(package: str, root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted((root / package).rglob("*.py")):
        for top, line in sorted(imported_packages(path), key=lambda found: found[1]):
            if top in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(root)}:{line} imports {top}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_forbidden_imports(package):
    assert violations(package) == []


def test_the_checker_sees_a_forbidden_import(tmp_path):
    """The rule can fail: a cloud module importing the agent, even lazily, is found."""
    pkg = tmp_path / "cloud_bridge"
    pkg.mkdir()
    (pkg / "x.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kiosk_agent.journal import J\n"
        "def f():\n    import drivers.camera\n")
    assert violations("cloud_bridge", tmp_path) == [
        "cloud_bridge/x.py:3 imports kiosk_agent", "cloud_bridge/x.py:5 imports drivers"]
