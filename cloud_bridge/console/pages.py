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
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloud_bridge import auth
from cloud_bridge.domains import HERE as BRIDGE_DIR
from cloud_bridge.domains import domain_names

if TYPE_CHECKING:
    from aiohttp import web

    from .call import PageCall

View = Callable[["PageCall"], Awaitable["dict[str, Any] | web.StreamResponse"]]

CORE = "console"  # the console's own pages (no template prefix)
_PATH = re.compile(r"^([a-z0-9_-]+|\{[a-z_]+\})(/([a-z0-9_.-]+|\{[a-z_]+\}))*$|^$")

# Navigation groups (key -> zh, en, position). Domains add theirs with ``GROUPS``.
GROUPS: dict[str, tuple[str, str, int]] = {
    "overview": ("概览", "Overview", 0),
    "sales": ("销售", "Sales", 10),
    "stock": ("库存", "Stock", 20),
    "fleet": ("设备", "Kiosks", 30),
    "payments": ("支付", "Payments", 40),
    "finance": ("财务", "Finance", 50),
    "supply": ("供应链", "Supply chain", 60),
    "members": ("会员", "Members", 70),
    "marketing": ("营销", "Marketing", 80),
    "analytics": ("分析", "Analytics", 90),
    "service": ("客服", "Customer service", 100),
    "admin": ("管理", "Administration", 200),
}


class PageError(Exception):
    """A page declaration the console cannot serve (raised at start, names the page)."""


@dataclass(frozen=True, slots=True)
class Page:
    """One console page (or form action) as a domain declares it.

    Attributes:
        path: under ``/console/``; ``"orders"``, ``"orders/{order_no}"``, ``""`` = home.
        title_zh: title and navigation label in Chinese.
        title_en: the same in English.
        view: ``async def view(call: PageCall) -> dict | web.StreamResponse``; a dict
            is rendered with ``template``; a response (redirect, download) is sent as is.
        template: file in the domain's ``console/templates/`` (``None``: the view
            always returns a response).
        group: navigation group key (:data:`GROUPS` or the domain's ``GROUPS``).
        roles: admin roles that may open the page (others get 403 and no nav entry).
        method: ``"GET"`` for pages; ``"POST"`` for form actions (CSRF-checked).
        nav: listed in the navigation (``False`` for detail pages and actions).
        order: position inside its group.
        domain: filled in by discovery.
    """

    path: str
    title_zh: str
    title_en: str
    view: View
    template: str | None = None
    group: str = "overview"
    roles: tuple[str, ...] = auth.OPERATIONS_ROLES
    method: str = "GET"
    nav: bool = True
    order: int = 100
    domain: str = field(default=CORE)

    @property
    def name(self) -> str:
        """Route name: ``<domain>.<view function>`` (templates link with ``url(name)``)."""
        return f"{self.domain}.{self.view.__name__}"

    @property
    def url_path(self) -> str:
        return "/" + self.path

    def title(self, lang: str) -> str:
        return self.title_zh if lang == "zh" else self.title_en

    def template_name(self) -> str | None:
        if self.template is None:
            return None
        return self.template if self.domain == CORE else f"{self.domain}/{self.template}"

    def admits(self, principal: auth.Principal) -> bool:
        return principal.role in self.roles


@dataclass(frozen=True, slots=True)
class Registry:
    """Everything the console serves: pages, groups, labels, template folders."""

    pages: tuple[Page, ...]
    groups: dict[str, tuple[str, str, int]]
    labels: dict[str, tuple[str, str]]
    template_dirs: dict[str, Path]

    def nav(self, principal: auth.Principal, lang: str) -> list[dict[str, Any]]:
        """Navigation for one user: groups in order, each with the pages it may open."""
        out: dict[str, list[Page]] = {}
        for page in self.pages:
            if page.nav and page.method == "GET" and page.admits(principal):
                out.setdefault(page.group, []).append(page)
        groups = sorted(out, key=lambda g: (self.groups.get(g, ("", "", 999))[2], g))
        return [{"key": g,
                 "label": self.groups.get(g, (g, g, 0))[0 if lang == "zh" else 1],
                 "pages": sorted(out[g], key=lambda p: (p.order, p.path))}
                for g in groups]


def _check(page: Page, groups: dict[str, Any]) -> None:
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


def domain_console_modules() -> list[tuple[str, Any]]:
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
