"""Console pages and how they are found: a ``PAGES`` list per domain folder.

A page is declared, not wired: :class:`Page` names its path under ``/console/``, its
title in Chinese and English, the navigation group it is listed in, the admin roles
that may open it, the view function and the template. The console collects

* its own pages (:mod:`cloud_bridge.console.views`), and
* ``PAGES`` of every ``cloud_bridge/<domain>/console/__init__.py``
  (domains found by :mod:`cloud_bridge.domains`), with their templates from
  ``cloud_bridge/<domain>/console/templates/`` (referenced as ``<domain>/<file>``),
  their extra labels (``LABELS``) and navigation groups (``GROUPS``).

So adding a page to the console is a change inside one domain folder
(``docs/console.md``).
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from functools import cache
from pathlib import Path
from types import ModuleType

from cloud_bridge import auth
from cloud_bridge.domains import HERE as BRIDGE_DIR
from cloud_bridge.domains import domain_names

from .page import _PATH, CORE, GROUPS, Page, PageError, Registry, View

__all__ = ["CORE", "GROUPS", "Page", "PageError", "Registry", "View", "registry"]


def _check(page: Page, groups: dict[str, tuple[str, str, int]]) -> None:
    where = f"console page {page.domain}:{page.path!r}"
    if not _PATH.match(page.path):
        raise PageError(f"{where}: path must be lowercase segments or {{params}}")
    if page.method not in ("GET", "POST"):
        raise PageError(f"{where}: method must be GET or POST")
    if unknown := set(page.roles) - set(auth.ROLES):
        raise PageError(f"{where}: unknown roles {sorted(unknown)}")
    if page.nav and page.method == "GET" and page.group not in groups:
        raise PageError(f"{where}: unknown nav group {page.group!r}")
    if not page.title_zh or not page.title_en:
        raise PageError(f"{where}: needs title_zh and title_en")


def domain_console_modules() -> list[tuple[str, ModuleType]]:
    """``(domain, module)`` for every ``cloud_bridge/<domain>/console/__init__.py``."""
    found = []
    for name in domain_names():
        if name != CORE and (BRIDGE_DIR / name / "console" / "__init__.py").is_file():
            found.append((name, importlib.import_module(f"cloud_bridge.{name}.console")))
    return found


@cache
def registry() -> Registry:
    """The console's own pages plus every domain's ``PAGES`` (checked; built once)."""
    from . import i18n, views

    groups = dict(GROUPS)
    labels = dict(i18n.LABELS)
    template_dirs: dict[str, Path] = {}
    pages: list[Page] = [replace(p, domain=CORE) for p in views.PAGES]
    for domain, module in domain_console_modules():
        groups.update(getattr(module, "GROUPS", {}))
        labels.update(getattr(module, "LABELS", {}))
        pages += [replace(p, domain=domain) for p in getattr(module, "PAGES", [])]
        if module.__file__ is None:  # found by its __init__.py, so it has one
            raise PageError(f"console of {domain} has no __init__.py")
        tdir = Path(module.__file__).parent / "templates"
        if tdir.is_dir():
            template_dirs[domain] = tdir
    seen: dict[tuple[str, str], Page] = {}
    for page in pages:
        _check(page, groups)
        key = (page.method, page.path)
        if key in seen:
            raise PageError(f"console page {page.method} /console/{page.path} declared by "
                            f"{seen[key].domain} and {page.domain}")
        seen[key] = page
    return Registry(tuple(pages), groups, labels, template_dirs)
