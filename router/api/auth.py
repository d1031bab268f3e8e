"""The management API's guard: an admin API token (Bearer), then the route's access level for its role.

Tokens are looked up in the database on every call (the API is not the request path), so a revoked or
expired token is refused at once on every replica.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from router.admin.access import normal_path
from router.api.access import API_ACCESS, TENANT_FILTERED
from router.api.errors import ApiError
from router.identity.roles import Access, Decision, Principal, decide
from router.store.api_tokens import find_api_token
from router.store.db import Database

_STATE_KEY = "api_principal"
_BY_PATH = {(method, normal_path(path)): access for (method, path), access in API_ACCESS.items()}


def route_access(method: str, path_template: str) -> Access | None:
    return _BY_PATH.get((method, normal_path(path_template)))


def bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    value = connection.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def api_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = connection.scope.get("state", {}).get(_STATE_KEY)
    if not isinstance(principal, Principal):  # the guard always sets it; a handler outside it is a bug
        raise ApiError(401, "an admin API token is required")
    return principal


def _tenant_named(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[bool, int | None]:
    value = connection.path_params.get("tenant_id")
    if value is None:
        raw = connection.query_params.get("tenant_id")
        if not raw:
            return False, None
        if not raw.isdigit() or len(raw) > 17:
            raise ApiError(422, "tenant_id: give a tenant id", field="tenant_id")
        value = int(raw)
    return True, int(value)


async def api_guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    token = bearer(connection)
    if token is None:
        raise ApiError(401, "an admin API token is required: Authorization: Bearer rt-admin-...")
    db: Database = connection.app.state["db"]
    async with db.session() as session:
        row = await find_api_token(session, token)
    if row is None:
        raise ApiError(401, "the API token is unknown, revoked or expired")
    principal = Principal.of(f"token:{row.prefix}", row.role, row.tenant_ids)
    connection.scope.setdefault("state", {})[_STATE_KEY] = principal
    method = str(connection.scope.get("method", "GET"))
    template = normal_path(str(connection.scope.get("path_template", "")))
    access = route_access(method, template) or Access.OWNER
    named, tenant_id = _tenant_named(connection)
    decision = decide(principal, access, tenant_id if named else None)
    if decision is Decision.NOT_FOUND:
        raise ApiError(404, "not found")
    if decision is Decision.FORBIDDEN:
        raise ApiError(403, f"the role {principal.role.value} does not allow this")
    if template in TENANT_FILTERED and principal.scoped and not named:
        raise ApiError(
            422, "tenant_id: a tenant-limited token must name one of its tenants", field="tenant_id"
        )
