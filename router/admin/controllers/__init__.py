"""One controller per admin page; ROUTE_HANDLERS is what the /admin router mounts."""

from __future__ import annotations

from typing import Any

from router.admin.controllers.dashboard import DashboardController
from router.admin.controllers.keys import KeysController
from router.admin.controllers.login import LoginController
from router.admin.controllers.tenants import TenantsController

ROUTE_HANDLERS: list[Any] = [
    LoginController,
    DashboardController,
    TenantsController,
    KeysController,
]
