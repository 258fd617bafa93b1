"""The console's aiohttp sub-application under ``/console/``: login, sessions, pages.

:func:`mount_console` builds it from the page :func:`~.pages.registry` and adds it to
the bridge app. Each page's handler resolves the session (redirect to the login form
when there is none), checks the page's roles, checks the CSRF token of every POST,
calls the view and renders its template with the shared frame (navigation for the
user's role, language switch, logout).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web
from jinja2 import Environment
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import Database
from cloud_bridge.errors import BridgeError, Unauthorized
from cloud_bridge.keys import CONFIG_KEY, DB_KEY
from common.jsontypes import JsonObject

from . import sessions
from .call import PageCall, page_url
from .config import ConsoleSection, console_config
from .i18n import translate
from .jobs import TASKS_KEY
from .pages import CORE, Page, Registry, registry
from .render import HERE, SECURITY_HEADERS, environment, html

log = logging.getLogger(__name__)

REGISTRY_KEY = web.AppKey("console_registry", Registry)
ENV_KEY = web.AppKey("console_env", Environment)
LANG_COOKIE = "cb_console_lang"
_PARAM = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TITLES = {400: "error.generic", 403: "error.403", 404: "error.404", 409: "error.generic"}


def _cfg(request: web.Request) -> ConsoleSection:
    return console_config(request.config_dict[CONFIG_KEY])


def _db(request: web.Request) -> Database:
    return request.config_dict[DB_KEY]


def _secure(request: web.Request) -> bool:
    mode = _cfg(request).secure_cookie
    if mode != "auto":
        return mode == "always"
    return request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"


def set_cookie(resp: web.StreamResponse, request: web.Request, name: str, value: str,
               max_age: int | None = None) -> None:
    resp.set_cookie(name, value, path="/console/", httponly=True, samesite="Strict",
                    secure=_secure(request), max_age=max_age)


def clear_cookie(resp: web.StreamResponse, request: web.Request, name: str) -> None:
    resp.del_cookie(name, path="/console/", secure=_secure(request), httponly=True,
                    samesite="Strict")


def safe_next(value: str | None) -> str:
    """Only a path inside the console (no other host, no scheme) is followed after login."""
    if value and value.startswith("/console/") and "//" not in value and "\\" not in value:
        return value
    return "/console/"


def session_ids(request: web.Request) -> list[str]:
    """Every ``cb_console`` value the browser sent: a cookie planted for another path or
    domain arrives next to ours under the same name, so none is trusted by position."""
    out = []
    for header in request.headers.getall("Cookie", []):
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name == sessions.COOKIE and value and value not in out:
                out.append(value.strip('"'))
    return out[:4]


async def resolve_any(s: AsyncSession, request: web.Request, touch: bool = True
                      ) -> tuple[str | None, sessions.Active | None]:
    for raw in session_ids(request):
        active = await sessions.resolve(s, _cfg(request), raw, touch=touch)
        if active is not None:
            return raw, active
    return None, None


def _lang(request: web.Request, active: sessions.Active | None = None) -> str:
    if active is not None:
        return active.row.language
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in ("zh", "en") else _cfg(request).default_language


def _origin_ok(request: web.Request) -> bool:
    """A browser's Origin, when sent, must be this host (a second line behind CSRF)."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    return origin.split("://", 1)[-1] == request.host


def frame(request: web.Request, lang: str, active: sessions.Active | None,
          page: Page | None = None) -> JsonObject:
    """What every template gets: text, user, navigation, CSRF token, link builder."""
    reg = request.app[REGISTRY_KEY]
    principal = active.principal if active else None
    return {
        "lang": lang,
        "t": lambda key, **kw: translate(reg.labels, key, lang, **kw),
        "user": principal,
        "nav": reg.nav(principal, lang) if principal else [],
        "csrf": active.row.csrf_token if active else "",
        "page": page,
        "current": request.path,
        "here": request.path_qs,
        "url": lambda name, query=None, **params: page_url(reg, name, query, **params),
        "title": page.title(lang) if page else "",
    }


def error_page(request: web.Request, status: int, detail: str, lang: str,
               active: sessions.Active | None, key: str | None = None) -> web.Response:
    ctx = frame(request, lang, active)
    ctx.update(title=translate(request.app[REGISTRY_KEY].labels, "error.title", lang),
               status=status, message_key=key or _TITLES.get(status, "error.generic"),
               detail=detail)
    return html(request.app[ENV_KEY], "error.html", ctx, status=status)


# --------------------------------------------------------------------------- login


async def login_form(request: web.Request, *, status: int = 200, error: str | None = None,
                     username: str = "") -> web.Response:
    token = request.cookies.get(sessions.LOGIN_CSRF_COOKIE, "")
    fresh = not token or len(token) > 64
    if fresh:
        token = secrets.token_urlsafe(32)
    lang = _lang(request)
    ctx = frame(request, lang, None)
    ctx.update(title=translate(request.app[REGISTRY_KEY].labels, "login.title", lang),
               login_csrf=token, error=error, username=username,
               next=safe_next(request.query.get("next")),
               expired=request.query.get("expired") == "1")
    resp = html(request.app[ENV_KEY], "login.html", ctx, status=status)
    if fresh:
        set_cookie(resp, request, sessions.LOGIN_CSRF_COOKIE, token)
    return resp


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    lang = _lang(request)
    if not (_origin_ok(request) and sessions.same(form.get("csrf"),
                                                  request.cookies.get(sessions.LOGIN_CSRF_COOKIE))):
        return await login_form(request, status=403, error="login.csrf")
    username = str(form.get("username", ""))[:64]
    secret = str(form.get("secret", ""))[:500]
    cfg = _cfg(request)
    try:
        async with _db(request).session() as s:
            raw, active = await sessions.login(s, cfg, username, secret,
                                               session_ids(request), lang)
    except Unauthorized:
        log.warning("console login refused for %r from %s", username, request.remote)
        return await login_form(request, status=401, error="login.failed", username=username)
    log.info("console login: %s (%s)", active.user.username, active.user.role)
    resp = web.HTTPSeeOther(safe_next(str(form.get("next", ""))))
    set_cookie(resp, request, sessions.COOKIE, raw)
    clear_cookie(resp, request, sessions.LOGIN_CSRF_COOKIE)
    raise resp


async def logout(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with _db(request).session() as s:
        raw, active = await resolve_any(s, request, touch=False)
        if active is None:
            raise web.HTTPSeeOther("/console/login")
        if not (_origin_ok(request) and sessions.same(form.get("csrf"), active.row.csrf_token)):
            return error_page(request, 403, "CSRF", _lang(request, active), active, "error.csrf")
        await sessions.end(s, raw)
    resp = web.HTTPSeeOther("/console/login")
    clear_cookie(resp, request, sessions.COOKIE)
    raise resp


async def switch_language(request: web.Request) -> web.StreamResponse:
    """POST ``lang`` (zh|en) with the session's (or the login form's) CSRF token."""
    form = await request.post()
    sent_lang = form.get("lang")
    lang = sent_lang if isinstance(sent_lang, str) and sent_lang in ("zh", "en") else "zh"
    async with _db(request).session() as s:
        _, active = await resolve_any(s, request)
        expected = active.row.csrf_token if active else request.cookies.get(
            sessions.LOGIN_CSRF_COOKIE)
        if not (_origin_ok(request) and sessions.same(form.get("csrf"), expected)):
            return error_page(request, 403, "CSRF", _lang(request, active), active, "error.csrf")
        if active is not None:
            active.row.language = lang
    back = safe_next(str(form.get("next", "")))
    resp = web.HTTPSeeOther(back if active else "/console/login?" + urlencode({"next": back}))
    set_cookie(resp, request, LANG_COOKIE, lang, max_age=365 * 24 * 3600)
    raise resp


# --------------------------------------------------------------------------- pages


def page_handler(page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        reg = request.app[REGISTRY_KEY]
        sent = bool(session_ids(request))
        live = request.headers.get("Accept", "") == "text/event-stream"
        async with _db(request).session() as s:
            # A live stream does not count as use: an open fleet page still idles out.
            _, active = await resolve_any(s, request, touch=not live)
        if active is None:
            if request.method == "GET":
                query = {"next": request.path_qs}
                if sent:
                    query["expired"] = "1"
                resp = web.HTTPSeeOther("/console/login?" + urlencode(query))
                if sent:
                    clear_cookie(resp, request, sessions.COOKIE)
                raise resp
            return error_page(request, 403, "no session", _lang(request), None, "error.csrf")
        lang = active.row.language
        if not page.admits(active.principal):
            return error_page(request, 403, f"role {active.user.role}", lang, active)
        path = dict(request.match_info)
        if any(not _PARAM.match(v) for v in path.values()):
            return error_page(request, 404, "", lang, active)
        form = None
        if request.method == "POST":
            form = await request.post()
            token: object = form.get("csrf") or request.headers.get("X-CSRF-Token")
            if not (_origin_ok(request) and sessions.same(token, active.row.csrf_token)):
                log.warning("console CSRF refused: %s %s by %s", request.method, request.path,
                            active.user.username)
                return error_page(request, 403, "CSRF", lang, active, "error.csrf")
        call = PageCall(request, page, active, lang, path, form, reg)
        try:
            result = await page.view(call)
        except BridgeError as err:
            return error_page(request, err.status, err.detail, lang, active)
        if isinstance(result, web.StreamResponse):
            if not result.prepared:
                for name, value in SECURITY_HEADERS.items():
                    result.headers.setdefault(name, value)
            return result
        ctx = frame(request, lang, active, page)
        ctx.update(title=page.title(lang), call=call)
        ctx.update(result)
        template = page.template_name()
        if chosen := result.get("template"):  # a view may answer with another of its templates
            template = str(chosen) if page.domain == CORE else f"{page.domain}/{chosen}"
        if template is None:
            raise TypeError(f"page {page.name} has no template and its view sent no response")
        status = result.get("status", 200)
        if not isinstance(status, int):
            raise TypeError(f"page {page.name} answered with status {status!r}")
        return html(request.app[ENV_KEY], template, ctx, status=status)

    handle.__name__ = page.name
    return handle


async def _stop_tasks(app: web.Application) -> None:
    tasks = app[TASKS_KEY]
    for task in list(tasks):
        task.cancel()


def build_console() -> web.Application:
    """The console sub-application (mounted at ``/console``)."""
    reg = registry()
    sub = web.Application(client_max_size=12 * 1024 * 1024)  # price-book uploads
    sub[REGISTRY_KEY] = reg
    sub[ENV_KEY] = environment(reg)
    sub[TASKS_KEY] = set()
    sub.router.add_get("/login", login_form, name="login")
    sub.router.add_post("/login", login_submit)
    sub.router.add_post("/logout", logout, name="logout")
    sub.router.add_post("/lang", switch_language, name="lang")
    sub.router.add_static("/static", HERE / "static", name="static", append_version=False)
    for page in reg.pages:
        sub.router.add_route(page.method, page.url_path, page_handler(page))
    sub.on_shutdown.append(_stop_tasks)
    return sub


def mount_console(app: web.Application) -> None:
    """Add the console under ``/console/`` unless ``[console] enabled = false``."""
    if console_config(app[CONFIG_KEY]).enabled:
        app.add_subapp("/console", build_console())
