"""Business domains of the bridge, found by their folder.

A domain is a subpackage of ``cloud_bridge`` (``payments``, ``finance``, ``supply``,
...) with the same named files (DESIGN.md): ``models.py`` puts its tables on
:data:`cloud_bridge.models.Base`, ``api.py`` declares ``ROUTES`` (and, for sandbox
only routes, ``SANDBOX_ROUTES``), ``console/`` holds its pages. Adding a domain is
adding its folder: nothing else names it. Discovery is by file, so a folder without
``api.py`` or ``models.py`` simply contributes nothing of that kind.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path
from types import ModuleType

PACKAGE = "cloud_bridge"
HERE = Path(__file__).resolve().parent

# Subpackages that are plumbing, not business domains.
NOT_DOMAINS = frozenset({"migrations"})


@cache
def domain_names() -> tuple[str, ...]:
    """Every domain subpackage of ``cloud_bridge``, sorted for a stable route order."""
    names = [
        info.name
        for info in pkgutil.iter_modules([str(HERE)])
        if info.ispkg and info.name not in NOT_DOMAINS and not info.name.startswith("_")
    ]
    return tuple(sorted(names))


def domain_module(domain: str, module: str) -> ModuleType | None:
    """``cloud_bridge.<domain>.<module>`` or ``None`` when the domain has no such file."""
    if not (HERE / domain / f"{module}.py").is_file():
        return None
    return importlib.import_module(f"{PACKAGE}.{domain}.{module}")


def domain_modules(module: str) -> list[ModuleType]:
    """The ``module`` file of every domain that has one (``"models"``, ``"api"``, ...)."""
    found = (domain_module(name, module) for name in domain_names())
    return [mod for mod in found if mod is not None]
