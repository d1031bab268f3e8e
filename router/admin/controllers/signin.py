"""Company sign-in in the admin page: which IdP groups sign in to which tenant, each tenant's Claude Code
managed settings, and the members signed in now (with sign-out). The same data as config-as-code's `sso:`
section and `tenants[].managed_settings`; the same store functions (audited, config version bumped)."""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from router.admin.deps import actor, tenant_or_404
from router.admin.forms import Form
from router.admin.web import render, see_other
from router.config.fields import managed_settings_error
from router.config.lengths import GROUP_CHARS, NAME_CHARS
from router.store.access import StoreAccess
from router.store.member_signin import list_signin_sessions, revoke_signin_sessions
from router.store.signin import (
    MemberMapping,
    list_sso_mappings,
    replace_sso_mappings,
    set_tenant_managed_settings,
)
from router.store.tenants import list_tenants

AnyRequest = Request[Any, Any, Any]
PATH = "/admin/sign-in"


async def signin_page(
    request: AnyRequest,
    *,
    forms: dict[str, dict[str, Any]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    status: int = 200,
    store: StoreAccess,
) -> Template:
    async with store.reading() as session:
        members, admins = await list_sso_mappings(session)
        tenants = await list_tenants(session)
        sessions = await list_signin_sessions(session)
    names = {t.id: t.name for t in tenants}
    documents = {
        t.id: json.dumps(t.managed_settings, indent=2, sort_keys=True)
        if t.managed_settings is not None
        else ""
        for t in tenants
    }
    group_documents = [
        json.dumps(m.managed_settings, indent=2, sort_keys=True) if m.managed_settings is not None else ""
        for m in members
    ]
    return render(
        request,
        "admin/signin.html",
        {
            "configured": request.app.state.oidc_logins.configured,
            "redirect_uri": request.app.state.settings.oidc_redirect_uri,
            "members": members,
            "admins": admins,
            "tenants": tenants,
            "documents": documents,
            "group_documents": group_documents,
            "sessions": [(s, names.get(s.tenant_id, "?")) for s in sessions],
            "forms": forms or {},
            "errors": errors or {},
        },
        status=status,
    )


def _settings_document(form: Form) -> dict[str, Any] | None:
    """The posted managed settings: a JSON object (checked like config-as-code's), or None when emptied."""
    text = form.raw("managed_settings").strip()
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        form.error("managed_settings", f"Not valid JSON: {exc}.")
        return None
    problem = managed_settings_error(parsed)
    if problem:
        form.error("managed_settings", f"The settings {problem}.")
        return None
    return parsed  # type: ignore[no-any-return]


class SigninAdminController(Controller):
    path = PATH

    @get("/")
    async def page(self, request: AnyRequest, store: StoreAccess) -> Template:
        return await signin_page(request, store=store)

    @post("/members")
    async def add_member_group(self, request: AnyRequest, store: StoreAccess) -> Template | Redirect:
        form = Form(await request.form())
        group = form.text("group", required=True, max_len=GROUP_CHARS, label="Group") or ""
        tenant_name = form.text("tenant", required=True, max_len=NAME_CHARS, label="Tenant") or ""
        if form.ok:
            async with store.mutating() as session:
                members, admins = await list_sso_mappings(session)
                known = {t.name for t in await list_tenants(session)}
                if tenant_name not in known:
                    form.error("tenant", f"No tenant named {tenant_name!r}.")
                elif any(m.group == group and m.tenant == tenant_name for m in members):
                    form.error("group", f"Group {group!r} already signs in to {tenant_name}.")
                else:
                    members.append(MemberMapping(group, tenant_name))
                    await replace_sso_mappings(session, members, admins, actor=actor(request))
                    return see_other(PATH, "saved")
        return await signin_page(
            request, forms={"member": form.values}, errors={"member": form.errors}, status=422, store=store
        )

    @post("/members/{position:int}/delete")
    async def remove_member_group(self, request: AnyRequest, position: int, store: StoreAccess) -> Redirect:
        async with store.mutating() as session:
            members, admins = await list_sso_mappings(session)
            if 0 <= position < len(members):
                del members[position]
                await replace_sso_mappings(session, members, admins, actor=actor(request))
        return see_other(PATH, "deleted")

    @post("/members/{position:int}/managed-settings")
    async def save_group_settings(
        self, request: AnyRequest, position: int, store: StoreAccess
    ) -> Template | Redirect:
        form = Form(await request.form())
        document = _settings_document(form)
        if form.ok:
            async with store.mutating() as session:
                members, admins = await list_sso_mappings(session)
                if 0 <= position < len(members):
                    m = members[position]
                    members[position] = MemberMapping(m.group, m.tenant, document)
                    await replace_sso_mappings(session, members, admins, actor=actor(request))
            return see_other(PATH, "saved")
        return await signin_page(
            request,
            forms={f"group-{position}": form.values},
            errors={f"group-{position}": form.errors},
            status=422,
            store=store,
        )

    @post("/tenants/{tenant_id:int}/managed-settings")
    async def save_managed_settings(
        self, request: AnyRequest, tenant_id: int, store: StoreAccess
    ) -> Template | Redirect:
        form = Form(await request.form())
        document = _settings_document(form)
        if form.ok:
            async with store.mutating() as session:
                tenant = await tenant_or_404(session, tenant_id)
                await set_tenant_managed_settings(session, tenant, document, actor=actor(request))
            return see_other(PATH, "saved")
        return await signin_page(
            request,
            forms={f"settings-{tenant_id}": form.values},
            errors={f"settings-{tenant_id}": form.errors},
            status=422,
            store=store,
        )

    @post("/sessions/{session_id:str}/revoke")
    async def sign_out(self, request: AnyRequest, session_id: str, store: StoreAccess) -> Redirect:
        async with store.mutating() as session:
            await revoke_signin_sessions(
                session,
                reason="signed out by an administrator",
                actor=actor(request),
                session_id=session_id[:40],
            )
        return see_other(PATH, "signed_out")
