"""The declaration of a console page (:class:`Page`) and of the set the console serves
(:class:`Registry`); how they are collected is :mod:`.pages`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cloud_bridge import auth
from common.jsontypes import JsonObject

if TYPE_CHECKING:
    from aiohttp import web

    from .call import PageCall

View = Callable[["PageCall"], Awaitable["JsonObject | web.StreamResponse"]]

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

    def nav(self, principal: auth.Principal, lang: str) -> list[JsonObject]:
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


