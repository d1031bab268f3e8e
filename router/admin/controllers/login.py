"""Sign in, sign out, and the first-run setup page that creates the first admin user."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from router.admin import sso as admin_sso
from router.admin.auth import admin_keys, current_session, session_cache
from router.admin.forms import Form
from router.admin.security import PRE_SESSION_COOKIE, SESSION_COOKIE
from router.admin.setup import SETUP_COUNTER, setup_open
from router.admin.web import admin_cookie, render, see_other
from router.config.lengths import ADMIN_NAME_CHARS
from router.identity import signin, users
from router.identity.login import BROWSER_COOKIE
from router.identity.roles import Role
from router.settings import Settings
from router.store import sessions as session_store
from router.store.access import StoreAccess
from router.store.db import AlreadyExistsError

AnyRequest = Request[Any, Any, Any]
PUBLIC = {"public": True}


def _next_target(value: str | None) -> str:
    if value and value.startswith("/admin") and not value.startswith("//") and "\\" not in value:
        return value
    return "/admin"


def settings_of(request: AnyRequest) -> Settings:
    settings: Settings = request.route_handler.opt["settings"]
    return settings


def sign_in_policy(request: AnyRequest) -> signin.SignInPolicy:
    settings = settings_of(request)
    return signin.SignInPolicy(
        absolute_seconds=settings.admin_session_max_seconds,
        attempts_per_address=settings.sign_in_attempts_per_address,
        address_window_seconds=settings.sign_in_window_seconds,
        allow_passwords=settings.admin_password_sign_in,
        refusal_hold_seconds=signin.REFUSAL_HOLD_SECONDS,
    )


def local_window(request: AnyRequest) -> signin.LocalWindow:
    """This app's in-memory per-address sign-in counts (made on first use, kept on the app's state)."""
    window = request.app.state.get("sign_in_window")
    if not isinstance(window, signin.LocalWindow):
        window = signin.LocalWindow()
        request.app.state["sign_in_window"] = window
    return window


def client_address(request: AnyRequest) -> str | None:
    # uvicorn has already replaced it with X-Forwarded-For when the proxy is trusted (forwarded_allow_ips).
    return request.client.host if request.client else None


def signed_in_response(request: AnyRequest, token: str, target: str) -> Redirect:
    """The redirect that carries a new session's cookie (password and identity-provider sign-ins alike)."""
    response = Redirect(target, status_code=303)
    max_age = int(settings_of(request).admin_session_max_seconds)
    response.set_cookie(admin_cookie(request, SESSION_COOKIE, token, max_age=max_age))
    # The pre-session nonce has done its job; a new one is made if the visitor signs out.
    response.delete_cookie(PRE_SESSION_COOKIE, path="/admin")
    return response


def _methods(request: AnyRequest) -> dict[str, bool]:
    """Which sign-in methods the page offers."""
    return {
        "sso_enabled": bool(request.app.state.oidc_logins.configured),
        "passwords_enabled": settings_of(request).admin_password_sign_in,
    }


class LoginController(Controller):
    path = "/admin"
    opt = PUBLIC

    @get("/login")
    async def login_page(self, request: AnyRequest, next: str | None = None) -> Template | Redirect:
        if current_session(request) is not None:
            return see_other(_next_target(next))
        return render(
            request,
            "admin/login.html",
            {"form": {"next": _next_target(next)}, "errors": {}, **_methods(request)},
        )

    @get("/login/sso")
    async def login_sso(self, request: AnyRequest, next: str | None = None) -> Template | Redirect:
        """Off to the company IdP; /oidc/callback brings the browser back to `next`, signed in."""
        logins = request.app.state.oidc_logins
        if not logins.configured:
            return render(
                request,
                "admin/error.html",
                {
                    "title": "Not available",
                    "message": "Sign-in with the identity provider is not set up.",
                    "status": 404,
                },
                status=404,
            )
        url, cookie = await logins.begin(
            admin_sso.PURPOSE, {"next": _next_target(next)}, browser=request.cookies.get(BROWSER_COOKIE)
        )
        response = Redirect(url, status_code=303)
        response.set_cookie(cookie)
        return response

    @post("/login")
    async def login(self, request: AnyRequest, store: StoreAccess) -> Template | Redirect:
        form = Form(await request.form())
        if not settings_of(request).admin_password_sign_in:
            context = {
                "form": {},
                "errors": {"form": "Password sign-in is switched off here."},
                **_methods(request),
            }
            return render(request, "admin/login.html", context, status=403)
        username = form.text("username", required=True, max_len=ADMIN_NAME_CHARS, label="User name") or ""
        password = form.values.get("password", "")
        if not password:
            form.error("password", "Password is required.")
        target = _next_target(form.raw("next"))
        context = {
            "form": {"username": form.raw("username"), "next": target},
            "errors": form.errors,
            **_methods(request),
        }
        if not form.ok:
            return render(request, "admin/login.html", context, status=422)
        result = await signin.sign_in(
            store.db,
            username,
            password,
            address=client_address(request),
            policy=sign_in_policy(request),
            local=local_window(request),
        )
        if result.status in (signin.SignInStatus.LOCKED, signin.SignInStatus.RATE_LIMITED):
            seconds = result.retry_after
            context["errors"] = {"form": f"Too many attempts, try again in {seconds} s."}
            return render(
                request, "admin/login.html", context, status=429, headers={"Retry-After": str(seconds)}
            )
        if not result.ok or result.token is None or result.user is None:
            context["errors"] = {"form": "Wrong user name or password."}
            return render(request, "admin/login.html", context, status=422)
        return signed_in_response(request, result.token, target)

    @post("/logout")
    async def logout(self, request: AnyRequest, store: StoreAccess) -> Redirect:
        signed_in = current_session(request)
        if signed_in is not None:
            session_cache(request).forget(signed_in.token_hash)
            async with store.mutating() as session:
                await session_store.end_session(
                    session, signed_in.token_hash, actor=signed_in.username, address=client_address(request)
                )
        response = Redirect("/admin/login?notice=signed_out", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/admin")
        return response

    @get("/setup")
    async def setup_page(
        self, request: AnyRequest, token: str | None = None, *, store: StoreAccess
    ) -> Template:
        async with store.reading() as session:
            open_ = await setup_open(session)
        if not open_ or not admin_keys(request).setup_valid(SETUP_COUNTER, token):
            return _setup_closed(request)
        return render(request, "admin/setup.html", {"token": token, "form": {}, "errors": {}})

    @post("/setup")
    async def setup(self, request: AnyRequest, store: StoreAccess) -> Template | Redirect:
        form = Form(await request.form())
        token = form.raw("token")
        username = form.text("username", required=True, max_len=ADMIN_NAME_CHARS, label="User name") or ""
        password = form.values.get("password", "")
        if password != form.values.get("password2", ""):
            form.error("password2", "The two passwords differ.")
        context: dict[str, Any] = {"token": token, "form": {"username": form.raw("username")}}
        async with store.mutating() as session:
            if not await setup_open(session) or not admin_keys(request).setup_valid(SETUP_COUNTER, token):
                return _setup_closed(request)
            if form.ok:
                try:
                    # The first user, made by the setup link, owns the installation.
                    await users.create_user(session, username, password, role=Role.OWNER, actor=username)
                except ValueError as exc:
                    field = "password" if "password" in str(exc) else "username"
                    form.error(field, _sentence(str(exc)))
                except AlreadyExistsError as exc:
                    form.error("username", _sentence(str(exc)))
            if not form.ok:
                await session.rollback()
                context["errors"] = form.errors
                return render(request, "admin/setup.html", context, status=422)
        token = await signin.open_session(
            store.db,
            username,
            address=client_address(request),
            policy=sign_in_policy(request),
            method="setup",
        )
        return signed_in_response(request, token, "/admin?notice=welcome")


def _setup_closed(request: AnyRequest) -> Template:
    return render(
        request,
        "admin/error.html",
        {
            "title": "Setup link not valid",
            "message": "This setup link is invalid or has already been used. Sign in instead.",
            "status": 404,
        },
        status=404,
    )


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
