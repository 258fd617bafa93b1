"""Hooks that let a domain folder's own tests cover its routes in the router-wide checks.

The router-wide tables (``test_api_admin_scoping``, ``test_api_mp_isolation``) list every
core route. A domain folder (``cloud_bridge/<domain>/``) checks its routes in its own test
package instead, so that parallel domains never edit one shared table: a route of domain
``d`` is left out of a table only when ``tests/cloud_bridge/d/<test_file>`` exists. In the
same way ``tests/cloud_bridge/d/walk.py`` with ``walk(call, ctx)`` adds the domain's calls to
the OpenAPI success walk of ``test_openapi_fuzz``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud_bridge.domains import domain_names

HERE = Path(__file__).resolve().parent
# The file in a domain's test package that checks its admin routes against other stores.
CROSS_STORE_TEST = "test_cross_store.py"
# The file in a domain's test package that checks its mini-program routes against other users.
OTHER_USER_TEST = "test_other_user.py"


def domain_of(route: Any) -> str | None:
    """The domain folder whose module declares ``route``'s handler, or ``None`` (core)."""
    parts = route.handler.__module__.split(".")
    if len(parts) > 2 and parts[0] == "cloud_bridge" and parts[1] in domain_names():
        return parts[1]
    return None


def checked_by_domain(route: Any, test_file: str) -> bool:
    """Whether the route's domain checks it in ``tests/cloud_bridge/<domain>/<test_file>``."""
    domain = domain_of(route)
    return domain is not None and (HERE / domain / test_file).is_file()


def domain_walks() -> list[Callable[..., None]]:
    """``walk(call, ctx)`` of every domain test package that has a ``walk.py``."""
    walks = []
    for name in domain_names():
        if (HERE / name / "walk.py").is_file():
            walks.append(importlib.import_module(f"tests.cloud_bridge.{name}.walk").walk)
    return walks
