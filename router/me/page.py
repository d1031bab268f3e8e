"""A member's page: signed in through the IdP (the `sso.members` groups give their tenants), matched to keys
by member name = e-mail. Shows their keys, usage and cost this month, remaining budget and the two export
lines for Claude Code; when the tenant allows self-service they issue, rotate and revoke their own keys
(within the tenant's limits, like any key). The session is server-side (member_page_sessions)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.response import Redirect, Template

from router.admin.security import AdminKeys
from router.identity.login import BROWSER_COOKIE, error_page
from router.identity.oidc import Identity
from router.settings import Settings
from router.store import budgets as budget_store
from router.store import keys as key_store
from router.store import member_pages
from router.store.access import StoreAccess
from router.store.db import Database, DbSession, StoreError
from router.store.models import ApiKey, Tenant
from router.store.oidc_logins import LoginState
from router.store.signin import list_sso_mappings
from router.store.tenants import get_tenant_by_name
from router.store.usage_reports import month_to_date_spend

AnyRequest = Request[Any, Any, State]
PURPOSE = "member-page"
COOKIE = "router_me"
SESSION_SECONDS = 8 * 60 * 60


def _settings(request: AnyRequest) -> Settings:
    settings: Settings = request.app.state["settings"]
    return settings


def _keys(request: AnyRequest) -> AdminKeys:
    return AdminKeys(_settings(request).secret_key or "")


def _https(request: AnyRequest) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return (
        (forwarded.split(",")[0].strip().lower() == "https") if forwarded else request.url.scheme == "https"
    )


def _base_url(request: AnyRequest) -> str:
    public = _settings(request).public_url
    if public:
        return public.rstrip("/")
    return f"{'https' if _https(request) else request.url.scheme}://{request.url.netloc}"


def month_start() -> datetime:
    return datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class MemberPageCompletion:
    """Where /oidc/callback hands a member's sign-in to /me."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def complete(self, request: AnyRequest, login: LoginState, who: Identity) -> Response[Any]:
        if not who.email:
            return error_page(
                "Sign-in refused", "The identity provider did not say who you are (no e-mail).", 403
            )
        async with self._db.transaction() as session:
            members, _admins = await list_sso_mappings(session)
            tenant_ids: list[int] = []
            for mapping in members:
                if mapping.group in who.groups:
                    tenant = await get_tenant_by_name(session, mapping.tenant)
                    if tenant is not None and tenant.enabled and tenant.id not in tenant_ids:
                        tenant_ids.append(tenant.id)
            if not tenant_ids:
                return error_page("Sign-in refused", "You are in no group that may use this router.", 403)
            token = await member_pages.create_member_session(
                session, who.email, tenant_ids, seconds=SESSION_SECONDS
            )
        response = Redirect("/me", status_code=303)
        response.set_cookie(
            Cookie(
                key=COOKIE,
                value=token,
                path="/me",
                httponly=True,
                samesite="lax",
                secure=_https(request),
                max_age=SESSION_SECONDS,
            )
        )
        return response

    async def fail(self, request: AnyRequest, login: LoginState, message: str) -> Response[Any]:
        return error_page("Sign-in failed", f"The sign-in failed: {message}.", 400)


async def _member(request: AnyRequest, store: StoreAccess) -> member_pages.Member | None:
    async with store.reading() as session:
        return await member_pages.load_member(session, request.cookies.get(COOKIE))


def _csrf_ok(request: AnyRequest, member: member_pages.Member, form: Any) -> bool:
    token = form.get("_csrf")
    return _keys(request).csrf_valid(member.token_hash, token if isinstance(token, str) else None)


async def _page(
    request: AnyRequest,
    member: member_pages.Member,
    *,
    issued: dict[str, Any] | None = None,
    error: str = "",
    store: StoreAccess,
) -> Template:
    since = month_start()
    tenants: list[dict[str, Any]] = []
    async with store.reading() as session:
        for tenant_id in member.tenant_ids:
            tenant = await session.get(Tenant, tenant_id)
            if tenant is None:
                continue
            keys = [
                k
                for k in await key_store.list_keys(session, tenant.name)
                if k.member.lower() == member.email.lower()
            ]
            key_spend, tenant_spend = await month_to_date_spend(
                session, since, key_ids=[k.id for k in keys], tenant_ids=[tenant.id]
            )
            totals = await member_pages.member_totals(session, tenant.id, member.email, since)
            spent = tenant_spend.get(tenant.id, 0.0)
            # Every budget that holds this member's requests: the tenant's, their own, their keys'.
            key_ids = {k.id for k in keys if k.revoked_at is None}
            applying = [
                b
                for b in tenant.budgets
                if b.subject_kind == "tenant"
                or (b.subject_kind == "member" and b.member.lower() == member.email.lower())
                or b.key_id in key_ids
            ]
            prefixes = {k.id: k.prefix for k in keys}
            tenants.append(
                {
                    "tenant": tenant,
                    "keys": [
                        {
                            "key": k,
                            "spent": key_spend.get(k.id, 0.0),
                            "remaining": (k.budget_usd - key_spend.get(k.id, 0.0)) if k.budget_usd else None,
                        }
                        for k in keys
                    ],
                    "totals": totals,
                    "budgets": await budget_store.budget_lines(session, applying),
                    "prefixes": prefixes,
                    "tenant_remaining": (tenant.budget_usd - spent)
                    if tenant.budget_usd is not None
                    else None,
                }
            )
    return Template(
        template_name="me.html",
        context={
            "email": member.email,
            "tenants": tenants,
            "csrf_token": _keys(request).csrf_token(member.token_hash),
            "base_url": _base_url(request),
            "issued": issued,
            "error": error,
            "month": since.strftime("%B %Y"),
        },
        status_code=422 if error else 200,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"},
    )


def _sign_in_page(request: AnyRequest) -> Template:
    return Template(
        template_name="me.html",
        context={"email": None, "sso": bool(request.app.state.oidc_logins.configured)},
        headers={"Cache-Control": "no-store"},
    )


@get("/me", include_in_schema=False, name="me_page")
async def me_page(request: AnyRequest, store: StoreAccess) -> Template:
    member = await _member(request, store=store)
    if member is None:
        return _sign_in_page(request)
    return await _page(request, member, store=store)


@get("/me/login", include_in_schema=False, name="me_login")
async def me_login(request: AnyRequest) -> Response[Any]:
    logins = request.app.state.oidc_logins
    if not logins.configured:
        return error_page("Not available", "Sign-in with the identity provider is not set up.", 404)
    url, cookie = await logins.begin(PURPOSE, {}, browser=request.cookies.get(BROWSER_COOKIE))
    response = Redirect(url, status_code=303)
    response.set_cookie(cookie)
    return response


@post("/me/logout", include_in_schema=False, name="me_logout")
async def me_logout(request: AnyRequest, store: StoreAccess) -> Response[Any]:
    member = await _member(request, store=store)
    if member is not None and _csrf_ok(request, member, await request.form()):
        async with store.mutating() as session:
            await member_pages.end_member_session(session, member.token_hash)
    response = Redirect("/me", status_code=303)
    response.delete_cookie(COOKIE, path="/me")
    return response


async def _own_key(
    session: DbSession, member: member_pages.Member, key_id: int
) -> tuple[ApiKey, Tenant] | None:
    key = await session.get(ApiKey, key_id)
    if key is None or key.tenant_id not in member.tenant_ids or key.member.lower() != member.email.lower():
        return None
    tenant = await session.get(Tenant, key.tenant_id)
    return (key, tenant) if tenant is not None else None


async def _changeable_key(
    session: DbSession, member: member_pages.Member, key_id: int, verb: str
) -> tuple[ApiKey, Tenant] | Response[Any]:
    """The member's own key, in a tenant that lets members change their keys; else the page saying why."""
    found = await _own_key(session, member, key_id)
    if found is None:
        return error_page("Not found", "There is no such page.", 404)
    if not found[1].member_self_service:
        return error_page("Not allowed", f"Your team {verb} keys for you: ask your tenant's admin.", 403)
    return found


async def _guarded(
    request: AnyRequest, store: StoreAccess
) -> tuple[member_pages.Member, Any] | Response[Any]:
    member = await _member(request, store=store)
    if member is None:
        return Redirect("/me", status_code=303)
    form = await request.form()
    if not _csrf_ok(request, member, form):
        return error_page("Form expired", "This form's security token is missing or no longer valid.", 403)
    return member, form


@post("/me/keys", include_in_schema=False, name="me_issue_key")
async def me_issue_key(request: AnyRequest, store: StoreAccess) -> Response[Any] | Template:
    guarded = await _guarded(request, store=store)
    if not isinstance(guarded, tuple):
        return guarded
    member, form = guarded
    raw = str(form.get("tenant_id") or "")
    tenant_id = int(raw) if raw.isdigit() and len(raw) < 18 else -1
    if tenant_id not in member.tenant_ids:
        return error_page("Not found", "There is no such page.", 404)
    try:
        async with store.mutating() as session:
            tenant = await session.get(Tenant, tenant_id)
            if tenant is None or not tenant.member_self_service:
                return error_page(
                    "Not allowed", "Your team issues keys for you: ask your tenant's admin.", 403
                )
            _key, plaintext = await key_store.create_key(
                session, tenant.name, member.email, None, actor=f"member:{member.email}"
            )
    except (ValueError, StoreError) as exc:
        return await _page(request, member, error=str(exc), store=store)
    return await _page(request, member, issued={"key": plaintext, "tenant": tenant.name}, store=store)


@post("/me/keys/{key_id:int}/rotate", include_in_schema=False, name="me_rotate_key")
async def me_rotate_key(request: AnyRequest, key_id: int, store: StoreAccess) -> Response[Any] | Template:
    """A new key with the same limits; the old one is revoked in the same transaction."""
    guarded = await _guarded(request, store=store)
    if not isinstance(guarded, tuple):
        return guarded
    member, _form = guarded
    async with store.mutating() as session:
        found = await _changeable_key(session, member, key_id, "rotates")
        if not isinstance(found, tuple):
            return found
        key, tenant = found
        _new, plaintext = await key_store.create_key(
            session,
            tenant.name,
            key.member,
            None,
            rpm=key.rpm,
            tpm=key.tpm,
            budget_usd=key.budget_usd,
            allowed_models=key.allowed_models,
            actor=f"member:{member.email}",
        )
        await budget_store.copy_key_budgets(session, key, _new, actor=f"member:{member.email}")
        await key_store.revoke_key(session, key.prefix, actor=f"member:{member.email}")
    return await _page(request, member, issued={"key": plaintext, "tenant": tenant.name}, store=store)


@post("/me/keys/{key_id:int}/revoke", include_in_schema=False, name="me_revoke_key")
async def me_revoke_key(request: AnyRequest, key_id: int, store: StoreAccess) -> Response[Any] | Template:
    guarded = await _guarded(request, store=store)
    if not isinstance(guarded, tuple):
        return guarded
    member, _form = guarded
    async with store.mutating() as session:
        found = await _changeable_key(session, member, key_id, "revokes")
        if not isinstance(found, tuple):
            return found
        key, _tenant = found
        await key_store.revoke_key(session, key.prefix, actor=f"member:{member.email}")
    return Redirect("/me", status_code=303)


ME_ROUTES = [me_page, me_login, me_logout, me_issue_key, me_rotate_key, me_revoke_key]
