"""Admin sign-in through the company IdP: the completion handler `/oidc/callback` hands admin logins to.

The IdP's groups are mapped to a role (and tenants) by the `sso.admins` mappings at every sign-in, so a
person whose group was removed loses access at their next sign-in (and their open sessions end then too).
Users made this way have no password (store/admins.NO_PASSWORD); a local user of the same name is never
taken over by the IdP.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie, State
from litestar.response import Redirect

from router.admin.security import COOKIE_PATH, PRE_SESSION_COOKIE, SESSION_COOKIE
from router.config.lengths import ADMIN_NAME_CHARS
from router.identity import signin
from router.identity.login import error_page
from router.identity.oidc import Identity
from router.identity.roles import grant_for_groups
from router.settings import Settings
from router.store import admins as admin_store
from router.store.audit import record_audit
from router.store.db import Database, NotFoundError
from router.store.oidc_logins import LoginState
from router.store.signin import list_sso_mappings
from router.store.version import bump_config_version

log = logging.getLogger("router.identity")

PURPOSE = "admin"
# What the IdP's user becomes here: its e-mail (what people recognise), else its subject, whole (a cut name
# could be another person's): a longer one is refused.
MAX_NAME = ADMIN_NAME_CHARS


def safe_next(value: Any) -> str:
    if (
        isinstance(value, str)
        and value.startswith("/admin")
        and not value.startswith("//")
        and "\\" not in value
    ):
        return value
    return "/admin"


def session_cookie(settings: Settings, request: Request[Any, Any, Any], token: str) -> Cookie:
    forwarded = request.headers.get("x-forwarded-proto", "")
    https = (
        (forwarded.split(",")[0].strip().lower() == "https") if forwarded else request.url.scheme == "https"
    )
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=https,
        max_age=int(settings.admin_session_max_seconds),
    )


class AdminSsoCompletion:
    def __init__(self, settings: Settings, db: Database) -> None:
        self._settings = settings
        self._db = db

    def _policy(self) -> signin.SignInPolicy:
        s = self._settings
        return signin.SignInPolicy(
            absolute_seconds=s.admin_session_max_seconds,
            attempts_per_address=s.sign_in_attempts_per_address,
            address_window_seconds=s.sign_in_window_seconds,
        )

    async def complete(
        self, request: Request[Any, Any, State], login: LoginState, who: Identity
    ) -> Response[Any]:
        username = (who.email or who.subject or "").strip()
        if len(username) > MAX_NAME:
            log.warning("admin sign-in refused: the IdP's name for the user has %d characters", len(username))
            return error_page(
                "Sign-in refused",
                f"The sign-in was refused: your {'e-mail' if who.email else 'subject'} is longer than "
                f"{MAX_NAME} characters, "
                "the longest admin user name.",
                403,
            )
        address = request.client.host if request.client else None
        async with self._db.transaction() as session:
            _members, admin_mappings = await list_sso_mappings(session)
            grant = grant_for_groups(who.groups, [(m.group, m.role, m.tenants) for m in admin_mappings])
            user = await admin_store.find_user(session, username) if username else None
            managed = user is not None and user.password_hash == admin_store.NO_PASSWORD
            refusal: str | None = None
            if not username:
                refusal = "the identity provider named no e-mail or subject"
            elif grant is None:
                refusal = "your account is in no group that may administer this router"
                if managed and user is not None:
                    # Their group was removed: whatever sessions they still have end now.
                    await admin_store.end_sessions(session, user.id)
                    await bump_config_version(session)
            elif user is not None and not managed:
                refusal = "a local admin user has this name; ask an owner to sign you in with a password"
            elif user is not None and user.disabled:
                refusal = "this admin user is disabled"
            if refusal is not None:
                await record_audit(
                    session,
                    actor=username or "anonymous",
                    action="sign_in_failed",
                    object_type="admin_session",
                    object_id=None,
                    object_name=username,
                    before=None,
                    after={"reason": refusal, "method": "oidc", "address": address},
                )
                return error_page("Sign-in refused", f"The sign-in was refused: {refusal}.", 403)
            assert grant is not None
            role, tenant_names = grant
            existing = []
            for name in tenant_names:
                try:
                    await admin_store.tenant_ids_by_name(session, [name])
                    existing.append(name)
                except NotFoundError:
                    log.warning("sso.admins names tenant %r, which does not exist", name)
            if role.value in ("tenant-admin",) and not existing:
                return error_page(
                    "Sign-in refused", "The sign-in was refused: your tenants do not exist.", 403
                )
            if user is None:
                await admin_store.create_user(
                    session, username, None, role=role.value, tenants=existing, actor="oidc"
                )
            elif user.role != role.value or sorted(
                await admin_store.tenant_names(session, user.tenant_ids)
            ) != sorted(existing):
                await admin_store.set_role(session, username, role.value, existing, actor="oidc")
        token = await signin.open_session(
            self._db, username, address=address, policy=self._policy(), method="oidc"
        )
        response = Redirect(safe_next(login.payload.get("next")), status_code=303)
        response.set_cookie(session_cookie(self._settings, request, token))
        response.delete_cookie(PRE_SESSION_COOKIE, path=COOKIE_PATH)
        return response

    async def fail(self, request: Request[Any, Any, State], login: LoginState, message: str) -> Response[Any]:
        return error_page("Sign-in failed", f"The sign-in failed: {message}.", 400)
