"""The management API under /api/v1: JSON over the same services as the admin pages, for admin API tokens.

`build_api()` returns the router the app mounts; its guard (router/api/auth.py) checks the token and the
role with the same decision as the admin pages (router/identity/roles.py).
"""

from __future__ import annotations

from litestar import Router

from router.api.alerts import AlertsApi
from router.api.auth import api_guard
from router.api.budgets import BudgetsApi
from router.api.catalog import ChainsApi, DeploymentsApi, ProvidersApi, RulesApi
from router.api.errors import EXCEPTION_HANDLERS
from router.api.people import MeApi, UsageApi, UsersApi
from router.api.rules import TenantRulesApi
from router.api.tenants import TenantsApi

API_PREFIX = "/api/v1"


def build_api() -> Router:
    return Router(
        path=API_PREFIX,
        route_handlers=[
            TenantsApi,
            BudgetsApi,
            TenantRulesApi,
            RulesApi,
            ProvidersApi,
            DeploymentsApi,
            ChainsApi,
            AlertsApi,
            UsersApi,
            UsageApi,
            MeApi,
        ],
        guards=[api_guard],
        exception_handlers=EXCEPTION_HANDLERS,
        response_headers={"Cache-Control": "no-store"},
        security=[{"AdminApiToken": []}],
    )
