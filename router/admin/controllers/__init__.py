"""One controller per admin page; ROUTE_HANDLERS is what the /admin router mounts."""

from __future__ import annotations

from typing import Any

from router.admin.controllers.alerts import AlertsController
from router.admin.controllers.audit import AuditController
from router.admin.controllers.budgets import BudgetsController
from router.admin.controllers.chains import ChainsController
from router.admin.controllers.dashboard import DashboardController
from router.admin.controllers.health import HealthController
from router.admin.controllers.keys import AllKeysController, KeysController
from router.admin.controllers.login import LoginController
from router.admin.controllers.metrics import MetricsController
from router.admin.controllers.pools import PoolsController
from router.admin.controllers.providers import ProvidersController
from router.admin.controllers.reach import ReachController
from router.admin.controllers.rules import RulesController
from router.admin.controllers.signin import SigninAdminController
from router.admin.controllers.tenants import TenantsController
from router.admin.controllers.usage import RequestsController, UsageController
from router.admin.controllers.users import UsersController

ROUTE_HANDLERS: list[Any] = [
    LoginController,
    DashboardController,
    TenantsController,
    ReachController,
    KeysController,
    AllKeysController,
    BudgetsController,
    RulesController,
    ProvidersController,
    ChainsController,
    PoolsController,
    UsageController,
    RequestsController,
    HealthController,
    MetricsController,
    AlertsController,
    AuditController,
    UsersController,
    SigninAdminController,
]
