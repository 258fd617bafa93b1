"""What a console view gets: :class:`PageCall` (the request, who, language, helpers)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from aiohttp import web
from aiohttp.web_request import FileField
from multidict import MultiDictProxy, MultiMapping

from cloud_bridge import auth
from cloud_bridge.config import BridgeConfig
from cloud_bridge.db import Database
from cloud_bridge.errors import InvalidRequest
from cloud_bridge.ingest import Ingest
from cloud_bridge.keys import CONFIG_KEY, DB_KEY, INGEST_KEY, SERVICES_KEY
from cloud_bridge.services import BridgeServices
from common.jsontypes import JsonObject

from . import fmt
from .config import ConsoleSection, console_config
from .i18n import translate
from .models import ConsoleAudit

if TYPE_CHECKING:  # the registry builds the core pages, whose views take a PageCall
    from .pages import Page, Registry
from .sessions import Active

log = logging.getLogger(__name__)

_IDENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(slots=True)
class PageCall:
    """One request to a console page, as its view sees it.

    Attributes:
        request: the aiohttp request.
        page: the :class:`Page` being served.
        active: the live session and its user.
        lang: ``"zh"`` or ``"en"``.
        path: path parameters (``{order_no}`` ...), checked to be identifiers.
        form: the posted form of a POST page (CSRF already checked), else ``None``.
    """

    request: web.Request
    page: Page
    active: Active
    lang: str
    path: dict[str, str]
    form: MultiDictProxy[str | bytes | bytearray | FileField] | None
    registry: Registry

    # ----------------------------------------------------------------- who and where
    @property
    def principal(self) -> auth.Principal:
        return self.active.principal

    @property
    def csrf(self) -> str:
        return self.active.row.csrf_token

    @property
    def query(self) -> MultiMapping[str]:
        return self.request.query

    @property
    def db(self) -> Database:
        return self.request.config_dict[DB_KEY]

    @property
    def config(self) -> BridgeConfig:
        return self.request.config_dict[CONFIG_KEY]

    @property
    def console_config(self) -> ConsoleSection:
        return console_config(self.config)

    @property
    def services(self) -> BridgeServices:
        """The bridge's shared services (``payments``, ``refunds`` ...; ``None`` if off)."""
        return self.request.config_dict[SERVICES_KEY]

    def ingest(self) -> Ingest | None:
        return self.request.config_dict.get(INGEST_KEY)

    # ----------------------------------------------------------------- text
    def t(self, key: str, **values: object) -> str:
        return translate(self.registry.labels, key, self.lang, **values)

    def tz(self, store: str | None) -> str:
        """The IANA zone a store's times are shown in (``[console] store_timezones``)."""
        default = self.config.bridge.timezone
        return self.console_config.store_timezones.get(store, default) if store else default

    def when(self, at: datetime | str | None, store: str | None, seconds: bool = False) -> str:
        return fmt.when(at, self.tz(store), seconds)

    # ----------------------------------------------------------------- input
    def arg(self, name: str, default: str | None = None, max_len: int = 64) -> str | None:
        """A query (GET) or form (POST) value, stripped; over-long values are refused."""
        source = self.form if self.form is not None and name in self.form else self.query
        value = source.get(name)
        if value is None or not str(value).strip():
            return default
        value = str(value).strip()
        if len(value) > max_len or "\x00" in value:
            raise InvalidRequest(f"{name} is too long")
        return value

    def ident(self, name: str) -> str | None:
        value = self.arg(name)
        if value is not None and not _IDENT.match(value):
            raise InvalidRequest(f"{name} must be letters, digits, - or _")
        return value

    def store_filter(self) -> str | None:
        """The store to show: the ``store`` argument within the caller's scope (403 outside)."""
        return self.principal.store_scope(self.ident("store"))

    def int_arg(self, name: str, default: int, lo: int, hi: int) -> int:
        value = self.arg(name)
        if value is None:
            return default
        if not value.isdigit():
            raise InvalidRequest(f"{name} must be a whole number")
        return max(lo, min(hi, int(value)))

    # ----------------------------------------------------------------- links
    def url(self, name: str, query: Mapping[str, object] | None = None, **params: str) -> str:
        """``/console/...`` of the page named ``name`` (``domain.view``) with ``params``."""
        return page_url(self.registry, name, query, **params)

    def redirect(self, location: str) -> web.HTTPSeeOther:
        return web.HTTPSeeOther(location)

    # ----------------------------------------------------------------- audit
    async def audit(self, action: str, target: str, outcome: str, *, store: str | None = None,
                    detail: JsonObject | None = None) -> None:
        """Write who did what to what, and how it ended, to the audit trail."""
        p = self.principal
        async with self.db.session() as s:
            s.add(ConsoleAudit(actor=p.actor, role=p.role or "", store=store, action=action,
                               target=target[:200], outcome=outcome, detail=detail or {},
                               ip=(self.request.remote or "")[:64]))
        log.info("console %s %s by %s: %s", action, target, p.actor, outcome)


def page_url(registry: Registry, name: str, query: Mapping[str, object] | None = None,
             **params: str) -> str:
    for page in registry.pages:
        if page.name == name:
            path = page.path
            for key, value in params.items():
                path = path.replace("{" + key + "}", quote(str(value), safe=""))
            url = "/console/" + path
            if query:
                url += "?" + urlencode({k: v for k, v in query.items() if v not in (None, "")})
            return url
    raise KeyError(f"no console page named {name}")
