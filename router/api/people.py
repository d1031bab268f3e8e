"""/api/v1 users (owners only), usage reports, and who the token is."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, delete, get, patch, post

from router.admin.usage_filters import GROUPS, parse_usage_query
from router.api.auth import api_principal
from router.api.deps import actor
from router.api.errors import ApiError
from router.api.schemas import UsageOut, UserIn, UserOut, UserPatch, WhoAmI, out
from router.identity import users
from router.store import admins as admin_store
from router.store import usage_reports
from router.store.access import StoreAccess

AnyRequest = Request[Any, Any, Any]


def user_out(view: admin_store.UserView) -> UserOut:
    return out(UserOut, view)


class UsersApi(Controller):
    path = "/users"
    tags = ["users"]

    @get("/")
    async def list_users(self, request: AnyRequest, store: StoreAccess) -> list[UserOut]:
        async with store.reading() as session:
            return [user_out(v) for v in await admin_store.list_users(session)]

    @post("/")
    async def create_user(self, request: AnyRequest, data: UserIn, store: StoreAccess) -> UserOut:
        async with store.mutating() as session:
            user = await users.create_user(
                session,
                data.username,
                data.password,
                role=data.role,
                tenants=data.tenants,
                actor=actor(request),
            )
            return user_out(await admin_store.user_view(session, user))

    @patch("/{username:str}")
    async def update_user(
        self, request: AnyRequest, username: str, data: UserPatch, store: StoreAccess
    ) -> UserOut:
        async with store.mutating() as session:
            user = await admin_store.get_user(session, username)
            if data.role is not None or data.tenants is not None:
                current = await admin_store.user_view(session, user)
                await users.set_role(
                    session,
                    user.username,
                    data.role or current.role,
                    data.tenants if data.tenants is not None else current.tenants,
                    actor=actor(request),
                )
            if data.disabled is not None and data.disabled != user.disabled:
                await admin_store.set_disabled(session, user.username, data.disabled, actor=actor(request))
            if data.password is not None:
                await admin_store.set_password(session, user.username, data.password, actor=actor(request))
            return user_out(
                await admin_store.user_view(session, await admin_store.get_user(session, username))
            )

    @delete("/{username:str}")
    async def delete_user(self, request: AnyRequest, username: str, store: StoreAccess) -> None:
        async with store.mutating() as session:
            await admin_store.delete_user(session, username, actor=actor(request))


class UsageApi(Controller):
    path = "/usage"
    tags = ["usage"]

    @get("/")
    async def usage_report(self, request: AnyRequest, store: StoreAccess) -> UsageOut:
        """Totals for a range (?range=today|24h|7d|30d|90d or custom since/until), optionally grouped
        (?group_by=model|key|target|tenant|day|hour|month) and filtered (tenant_id, key_prefix, model,
        target)."""
        query = parse_usage_query(request.query_params, now=datetime.now(UTC))
        group_by = request.query_params.get("group_by") or None
        if group_by is not None and group_by not in GROUPS:
            raise ApiError(422, f"group_by: use one of {', '.join(GROUPS)}", field="group_by")
        if query.errors:
            field, message = next(iter(query.errors.items()))
            raise ApiError(422, f"{field}: {message}", field=field)
        async with store.reading() as session:
            rows = await usage_reports.aggregate_usage(
                session,
                **query.store_filters(),
                group_by=group_by,
            )
        return UsageOut(
            since=query.since,
            until=query.until,
            tenant_id=query.tenant_id,
            group_by=group_by,
            rows=[row.as_dict() for row in rows],
        )


class MeApi(Controller):
    path = "/me"
    tags = ["tokens"]

    @get("/")
    async def whoami(self, request: AnyRequest) -> WhoAmI:
        """The token's own role and tenants."""
        principal = api_principal(request)
        ids = sorted(principal.tenant_ids) if principal.tenant_ids is not None else None
        return WhoAmI(name=principal.username, role=principal.role.value, tenant_ids=ids)
