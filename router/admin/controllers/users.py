"""Admin users (owners only): create with a role and tenants, change role, disable, reset password, delete.

The same service as `router admin …` (router/identity/users.py, store/admins.py); access is the guard's.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from router.admin.auth import AdminNotFoundError
from router.admin.deps import actor
from router.admin.forms import Form
from router.admin.messages import sentence
from router.admin.web import render, see_other
from router.config.lengths import ADMIN_NAME_CHARS
from router.identity import users
from router.identity.roles import Role
from router.store import admins as admin_store
from router.store import tenants as tenant_store
from router.store.access import StoreAccess
from router.store.db import StoreError
from router.store.identity_models import AdminUser

AnyRequest = Request[Any, Any, Any]
ROLE_OPTIONS = [(role.value, role.value) for role in Role]


async def _user_or_404(session: Any, user_id: int) -> AdminUser:
    user = await admin_store.get_user_by_id(session, user_id)
    if user is None:
        raise AdminNotFoundError(f"There is no admin user with id {user_id}.")
    return user


def _tenants(form: Form) -> list[str]:
    return [name for name in form.lists.get("tenants", []) if name.strip()]


class UsersController(Controller):
    path = "/admin/users"

    async def _page(
        self,
        request: AnyRequest,
        *,
        form: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        row_errors: dict[int, str] | None = None,
        store: StoreAccess,
    ) -> Template:
        async with store.reading() as session:
            views = await admin_store.list_users(session)
            tenants = await tenant_store.list_tenants(session)
        return render(
            request,
            "admin/users.html",
            {
                "users": views,
                "tenants": tenants,
                "roles": ROLE_OPTIONS,
                "form": form or {"role": Role.VIEWER.value},
                "errors": errors or {},
                "row_errors": row_errors or {},
            },
            status=422 if errors or row_errors else 200,
        )

    @get("/")
    async def list_users(self, request: AnyRequest, store: StoreAccess) -> Template:
        return await self._page(request, store=store)

    @post("/")
    async def create(self, request: AnyRequest, store: StoreAccess) -> Template | Redirect:
        form = Form(await request.form())
        name = form.text("username", required=True, max_len=ADMIN_NAME_CHARS, label="User name") or ""
        role = form.raw("role")
        password = form.values.get("password", "")
        if not password and not form.checkbox("sso_only"):
            form.error("password", "Give a password, or tick “signs in through the identity provider only”.")
        if form.ok:
            try:
                async with store.mutating() as session:
                    await users.create_user(
                        session,
                        name,
                        password or None,
                        role=role,
                        tenants=_tenants(form),
                        actor=actor(request),
                    )
                return see_other("/admin/users", "created")
            except (ValueError, StoreError) as exc:
                message = sentence(exc)
                field = (
                    "password" if "password" in message else ("role" if "tenant" in message else "username")
                )
                form.error(field, message)
        return await self._page(request, form=form.values, errors=form.errors, store=store)

    @post("/{user_id:int}")
    async def update(self, request: AnyRequest, user_id: int, store: StoreAccess) -> Template | Redirect:
        """Role, tenants and enabled, from one row of the table."""
        form = Form(await request.form())
        try:
            async with store.mutating() as session:
                user = await _user_or_404(session, user_id)
                await users.set_role(
                    session, user.username, form.raw("role"), _tenants(form), actor=actor(request)
                )
                enabled = form.checkbox("enabled")
                if enabled == user.disabled:
                    await admin_store.set_disabled(session, user.username, not enabled, actor=actor(request))
        except (ValueError, StoreError) as exc:
            return await self._page(request, row_errors={user_id: sentence(exc)}, store=store)
        return see_other("/admin/users", "saved")

    @post("/{user_id:int}/password")
    async def reset_password(
        self, request: AnyRequest, user_id: int, store: StoreAccess
    ) -> Template | Redirect:
        form = Form(await request.form())
        try:
            async with store.mutating() as session:
                user = await _user_or_404(session, user_id)
                await admin_store.set_password(
                    session, user.username, form.values.get("password", ""), actor=actor(request)
                )
                await admin_store.clear_sign_in_lock(session, user.username)
        except (ValueError, StoreError) as exc:
            return await self._page(request, row_errors={user_id: sentence(exc)}, store=store)
        return see_other("/admin/users", "saved")

    @post("/{user_id:int}/delete")
    async def delete(self, request: AnyRequest, user_id: int, store: StoreAccess) -> Template | Redirect:
        try:
            async with store.mutating() as session:
                user = await _user_or_404(session, user_id)
                await admin_store.delete_user(session, user.username, actor=actor(request))
        except (ValueError, StoreError) as exc:
            return await self._page(request, row_errors={user_id: sentence(exc)}, store=store)
        return see_other("/admin/users", "deleted")
