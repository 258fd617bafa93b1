"""The aiohttp application keys of the bridge, in one module that imports no route module.

Route modules, domains and the app factory all import their keys from here, so there is
no import cycle between ``app.py`` and the modules it assembles.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

from .config import BridgeConfig
from .db import Database
from .ingest import Ingest
from .services import BridgeServices

CONFIG_KEY = web.AppKey("config", BridgeConfig)
DB_KEY = web.AppKey("db", Database)
INGEST_KEY = web.AppKey("ingest", Ingest)
HTTP_KEY = web.AppKey("http_client", aiohttp.ClientSession)
# Every declared route (cloud_bridge.openapi.Route), for the OpenAPI document.
ROUTES_KEY = web.AppKey("routes", list)
SERVICES_KEY = web.AppKey("services", BridgeServices)
