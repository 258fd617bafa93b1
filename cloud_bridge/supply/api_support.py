"""Helpers shared by the supply API modules: database, settings, the store's today."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from cloud_bridge import auth
from cloud_bridge.db import Database
from cloud_bridge.errors import InvalidRequest, NotFound
from cloud_bridge.openapi import Call

from .settings import SupplySettings

# Who may do what (Route.roles): store operations admit the store's staff too.
STOCK_ROLES = (auth.HEAD_OFFICE, auth.STORE_STAFF, auth.BUYER)
BUYER_ROLES = (auth.HEAD_OFFICE, auth.BUYER)
BILL_ROLES = (auth.HEAD_OFFICE, auth.BUYER, auth.FINANCE)
PAY_ROLES = (auth.HEAD_OFFICE, auth.FINANCE)
HQ = (auth.HEAD_OFFICE,)


def db(call: Call) -> Database:
    from cloud_bridge.keys import DB_KEY

    return call.app[DB_KEY]


def page(call: Call, limit: int) -> int:
    from cloud_bridge.keys import CONFIG_KEY

    return min(limit, call.app[CONFIG_KEY].http.page_max)


def today(settings: SupplySettings, given: str | None = None) -> date:
    """``given`` (YYYY-MM-DD) or the current day in the supply time zone."""
    if given:
        try:
            return date.fromisoformat(given)
        except ValueError as err:
            raise InvalidRequest(f"no such day {given}") from err
    return datetime.now(ZoneInfo(settings.timezone)).date()


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise InvalidRequest(f"no such day {text}") from err


def parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise InvalidRequest(f"not a time: {text}") from err


def visible_store(call: Call, store: str) -> None:
    """404 (not 403) for a thing of another store, so its ids do not leak."""
    if not call.principal.chain_wide and store != call.principal.store:
        raise NotFound("not found")


def int_path(call: Call, name: str) -> int:
    return int(call.path[name])
