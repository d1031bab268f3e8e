"""Which access level each admin route needs, and where a request names its tenant.

One table for every admin page, htmx fragment and export, read by the admin guard. A route missing from it
is refused to everyone but owners (fail closed), and tests/identity/test_role_route_matrix.py walks every
registered route so that a new one cannot ship without its line here.
"""

from __future__ import annotations

import re
from typing import Any

from litestar.connection import ASGIConnection

from router.identity.roles import Access

A = Access

# (method, path template as Litestar registers it) -> access. OPTIONS follows the route's GET/POST.
ROUTE_ACCESS: dict[tuple[str, str], Access] = {
    # sign-in, setup, assets
    ("GET", "/admin/login"): A.PUBLIC,
    ("POST", "/admin/login"): A.PUBLIC,
    ("GET", "/admin/login/sso"): A.PUBLIC,
    ("GET", "/admin/setup"): A.PUBLIC,
    ("POST", "/admin/setup"): A.PUBLIC,
    ("GET", "/admin/static/{file_path:path}"): A.PUBLIC,
    ("HEAD", "/admin/static/{file_path:path}"): A.PUBLIC,
    ("POST", "/admin/logout"): A.PUBLIC,  # ends the session the cookie names, if any
    # dashboard (scoped principals are sent to their tenants instead) and the admin 404 page
    ("GET", "/admin"): A.READ,
    ("GET", "/admin/{rest:path}"): A.SIGNED_IN,
    # tenants: lists are filtered to the visible tenants; the tenant itself is global configuration
    ("GET", "/admin/tenants"): A.READ_TENANT,
    ("POST", "/admin/tenants"): A.WRITE,
    ("GET", "/admin/tenants/{tenant_id:int}"): A.READ_TENANT,
    # read-only: the tenant's and the global rules and the targets they reach (names only)
    ("GET", "/admin/tenants/{tenant_id:int}/reach"): A.READ_TENANT,
    ("POST", "/admin/tenants/{tenant_id:int}/rename"): A.WRITE,
    ("POST", "/admin/tenants/{tenant_id:int}/enabled"): A.WRITE,
    ("POST", "/admin/tenants/{tenant_id:int}/limits"): A.WRITE,
    ("POST", "/admin/tenants/{tenant_id:int}/self-service"): A.WRITE_TENANT,
    ("GET", "/admin/tenants/{tenant_id:int}/delete"): A.WRITE,
    ("POST", "/admin/tenants/{tenant_id:int}/delete"): A.WRITE,
    # a tenant's keys: its tenant-admins issue, limit and revoke them
    ("POST", "/admin/tenants/{tenant_id:int}/keys"): A.WRITE_TENANT,
    ("GET", "/admin/tenants/{tenant_id:int}/keys/{key_id:int}"): A.READ_TENANT,
    ("POST", "/admin/tenants/{tenant_id:int}/keys/{key_id:int}/limits"): A.WRITE_TENANT,
    ("POST", "/admin/tenants/{tenant_id:int}/keys/{key_id:int}/revoke"): A.WRITE_TENANT,
    ("POST", "/admin/tenants/{tenant_id:int}/keys/{key_id:int}/rotate"): A.WRITE_TENANT,
    ("POST", "/admin/tenants/{tenant_id:int}/keys/{key_id:int}/reenable"): A.WRITE_TENANT,
    # budgets: tenant-admins set their members' and keys' (the tenant's own budget is an admin's: the
    # handler refuses a tenant-admin's)
    ("POST", "/admin/tenants/{tenant_id:int}/budgets"): A.WRITE_TENANT,
    ("POST", "/admin/tenants/{tenant_id:int}/budgets/{budget_id:int}/remove"): A.WRITE_TENANT,
    ("POST", "/admin/tenants/{tenant_id:int}/keys/{key_id:int}/budgets"): A.WRITE_TENANT,
    (
        "POST",
        "/admin/tenants/{tenant_id:int}/keys/{key_id:int}/budgets/{budget_id:int}/remove",
    ): A.WRITE_TENANT,
    ("GET", "/admin/keys"): A.READ_TENANT,  # lists only the keys of tenants the caller sees
    # rules: {level} is "global" (admins) or a tenant id (that tenant's tenant-admins too)
    ("GET", "/admin/rules"): A.READ_TENANT,
    ("POST", "/admin/rules/try"): A.READ_TENANT,
    ("POST", "/admin/rules/{level:str}"): A.WRITE_TENANT,
    ("POST", "/admin/rules/{level:str}/validate"): A.READ_TENANT,
    ("POST", "/admin/rules/{level:str}/reorder"): A.WRITE_TENANT,
    ("GET", "/admin/rules/{level:str}/{rule_id:int}"): A.READ_TENANT,
    ("GET", "/admin/rules/{level:str}/{rule_id:int}/edit"): A.WRITE_TENANT,
    ("POST", "/admin/rules/{level:str}/{rule_id:int}"): A.WRITE_TENANT,
    ("POST", "/admin/rules/{level:str}/{rule_id:int}/move"): A.WRITE_TENANT,
    ("POST", "/admin/rules/{level:str}/{rule_id:int}/delete"): A.WRITE_TENANT,
    # providers: admins create and edit them; a form that touches the credential is the owners' (the
    # handler answers 403), and so is deleting one (its credential goes with it)
    ("GET", "/admin/providers"): A.READ,
    ("POST", "/admin/providers"): A.WRITE,
    ("GET", "/admin/providers/{provider_id:int}"): A.READ,
    ("POST", "/admin/providers/{provider_id:int}"): A.WRITE,
    ("POST", "/admin/providers/{provider_id:int}/delete"): A.OWNER,
    ("POST", "/admin/providers/{provider_id:int}/test"): A.WRITE,
    ("POST", "/admin/deployments"): A.WRITE,
    ("GET", "/admin/deployments/{deployment_id:int}"): A.READ,
    ("POST", "/admin/deployments/{deployment_id:int}"): A.WRITE,
    ("POST", "/admin/deployments/{deployment_id:int}/delete"): A.WRITE,
    ("POST", "/admin/deployments/{deployment_id:int}/test"): A.WRITE,
    ("GET", "/admin/pools"): A.READ,
    ("POST", "/admin/pools"): A.WRITE,
    ("GET", "/admin/pools/{pool_id:int}"): A.READ,
    ("POST", "/admin/pools/{pool_id:int}"): A.WRITE,
    ("POST", "/admin/pools/{pool_id:int}/delete"): A.WRITE,
    ("GET", "/admin/chains"): A.READ,
    ("POST", "/admin/chains"): A.WRITE,
    ("GET", "/admin/chains/{chain_id:int}"): A.READ,
    ("POST", "/admin/chains/{chain_id:int}"): A.WRITE,
    ("POST", "/admin/chains/{chain_id:int}/delete"): A.WRITE,
    ("POST", "/admin/chains/{chain_id:int}/targets"): A.WRITE,
    ("POST", "/admin/chains/{chain_id:int}/targets/{position:int}/move"): A.WRITE,
    ("POST", "/admin/chains/{chain_id:int}/targets/{position:int}/remove"): A.WRITE,
    # company sign-in: who may sign in (the sso: mappings), tenants' managed settings, live sign-ins
    ("GET", "/admin/sign-in"): A.READ,
    ("POST", "/admin/sign-in/members"): A.WRITE,
    ("POST", "/admin/sign-in/members/{position:int}/delete"): A.WRITE,
    ("POST", "/admin/sign-in/members/{position:int}/managed-settings"): A.WRITE,
    ("POST", "/admin/sign-in/tenants/{tenant_id:int}/managed-settings"): A.WRITE,
    ("POST", "/admin/sign-in/sessions/{session_id:str}/revoke"): A.WRITE,
    # usage pages and exports: scoped principals always see one of their tenants
    ("GET", "/admin/usage"): A.READ_TENANT,
    ("GET", "/admin/usage.csv"): A.READ_TENANT,
    ("GET", "/admin/usage.json"): A.READ_TENANT,
    ("GET", "/admin/usage/requests.csv"): A.READ_TENANT,
    ("GET", "/admin/api/usage"): A.READ_TENANT,
    ("GET", "/admin/api/usage/timeseries"): A.READ_TENANT,
    ("GET", "/admin/requests"): A.READ_TENANT,  # ?id=REQUEST_ID: the record's tenant is checked too
    ("GET", "/admin/requests/{record_id:int}"): A.READ_TENANT,  # the record's tenant is checked too
    ("GET", "/admin/usage/chargeback"): A.READ_TENANT,  # rows only for the caller's tenants
    ("GET", "/admin/health"): A.READ,
    ("GET", "/admin/metrics"): A.READ,  # this replica's Prometheus text: every tenant's name is in it
    ("POST", "/admin/health/test"): A.WRITE,  # calls every upstream: like a provider's own test
    # alerts: global configuration; the webhook and its secret are write-only
    ("GET", "/admin/alerts"): A.READ,
    ("POST", "/admin/alerts"): A.WRITE,
    ("GET", "/admin/alerts/deliveries"): A.READ,
    ("GET", "/admin/alerts/{alert_id:int}"): A.READ,
    ("POST", "/admin/alerts/{alert_id:int}"): A.WRITE,
    ("POST", "/admin/alerts/{alert_id:int}/delete"): A.WRITE,
    ("POST", "/admin/alerts/{alert_id:int}/test"): A.WRITE,
    ("GET", "/admin/audit"): A.READ,
    # admin users
    ("GET", "/admin/users"): A.OWNER,
    ("POST", "/admin/users"): A.OWNER,
    ("POST", "/admin/users/{user_id:int}"): A.OWNER,
    ("POST", "/admin/users/{user_id:int}/password"): A.OWNER,
    ("POST", "/admin/users/{user_id:int}/delete"): A.OWNER,
}

# Routes whose query must name one of a scoped principal's tenants (they are redirected to one if not).
TENANT_FILTERED = frozenset(
    {
        "/admin/usage",
        "/admin/usage.csv",
        "/admin/usage.json",
        "/admin/usage/requests.csv",
        "/admin/api/usage",
        "/admin/api/usage/timeseries",
    }
)


_PARAM_TYPE = re.compile(r"\{(\w+):[^}]+\}")


def normal_path(path: str) -> str:
    """ "/a/{x:int}" and "/a/{x}" (the request scope's path_template) name the same route."""
    return _PARAM_TYPE.sub(r"{\1}", path)


_BY_NORMAL_PATH = {(method, normal_path(path)): access for (method, path), access in ROUTE_ACCESS.items()}


def route_access(method: str, path_template: str) -> Access | None:
    path = normal_path(path_template)
    if method == "OPTIONS":
        # Litestar answers OPTIONS itself; it reveals the allowed methods only, to the same people.
        found = [access for (_, p), access in _BY_NORMAL_PATH.items() if p == path]
        if not found:
            return None
        return Access.PUBLIC if all(a is Access.PUBLIC for a in found) else Access.SIGNED_IN
    return _BY_NORMAL_PATH.get((method, path))


def _tenant_number(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 18:
        return int(value)
    return None


def named_tenant(connection: ASGIConnection[Any, Any, Any, Any], form: Any | None) -> tuple[bool, int | None]:
    """(whether the request names a tenant at all, which one) from its path, query or form.

    A name that is not a tenant id (e.g. `?tenant_id=x`) counts as naming one that the caller cannot see.
    """
    params = connection.path_params
    candidates: list[Any] = []
    if "tenant_id" in params:
        candidates.append(params["tenant_id"])
    level = params.get("level")
    if isinstance(level, str) and level != "global":
        candidates.append(level)
    query_value = connection.query_params.get("tenant_id")
    if query_value:
        candidates.append(query_value)
    if form is not None:
        form_value = form.get("tenant_id")
        if isinstance(form_value, str) and form_value.strip():
            candidates.append(form_value.strip())
    if not candidates:
        return False, None
    numbers = {_tenant_number(value) for value in candidates}
    if None in numbers or len(numbers) != 1:
        return True, -1
    return True, numbers.pop()
