"""Who may use each route: the expected role matrix, one module per area.

Each module in this package defines ``ROUTES = {endpoint: Access(...)}`` and may define
``URL_VALUES = {url_argument: function(session) -> value}`` for the URL arguments its routes take.
A route that is in the app but in no module here fails tests/test_access.py: every new route must say who may use it.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

ADMIN, MANAGER, FINANCE, VIEWER = "admin", "manager", "finance", "viewer"
EVERYONE = frozenset({ADMIN, MANAGER, FINANCE, VIEWER})
STAFF = frozenset({ADMIN, MANAGER, FINANCE})


def only(*roles: str) -> frozenset[str]:
    """The roles named, and admin (who may do everything)."""
    return frozenset(roles) | {ADMIN}


@dataclass(frozen=True)
class Access:
    """Roles that may GET and roles that may POST; None when the route does not serve that method."""

    get: frozenset[str] | None = None
    post: frozenset[str] | None = None
    public: bool = False


PUBLIC = Access(public=True)


def collect() -> tuple[dict[str, Access], dict]:
    routes: dict[str, Access] = {}
    values: dict = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for endpoint, access in getattr(module, "ROUTES", {}).items():
            assert endpoint not in routes, f"{endpoint} is listed twice in tests/access"
            routes[endpoint] = access
        values.update(getattr(module, "URL_VALUES", {}))
    return routes, values
