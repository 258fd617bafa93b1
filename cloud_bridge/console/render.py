"""Jinja2 rendering of console pages: autoescaped, templates from every domain folder."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
)

from . import fmt
from .pages import Registry

HERE = Path(__file__).resolve().parent

# Every page: no caching of personal data, no framing, scripts and styles only from here.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def environment(registry: Registry) -> Environment:
    """The console's Jinja2 environment: autoescape on for every template, strict names."""
    loaders: list[BaseLoader] = [FileSystemLoader(str(HERE / "templates"))]
    if registry.template_dirs:
        loaders.append(PrefixLoader({d: FileSystemLoader(str(p))
                                     for d, p in registry.template_dirs.items()}))
    env = Environment(loader=ChoiceLoader(loaders), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True, undefined=StrictUndefined, enable_async=False)
    env.globals.update(money=fmt.money, yuan_input=fmt.yuan_input, duration=fmt.duration)
    env.filters["json"] = lambda v: json.dumps(v, ensure_ascii=False, indent=1, sort_keys=True)
    return env


def html(env: Environment, template: str, context: Mapping[str, object], status: int = 200,
         headers: dict[str, str] | None = None) -> web.Response:
    body = env.get_template(template).render(context)
    resp = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    resp.headers.update(SECURITY_HEADERS)
    if headers:
        resp.headers.update(headers)
    return resp
