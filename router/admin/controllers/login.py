"""Sign in, sign out, and the first-run setup page that creates the first admin user."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from router.admin.auth import admin_keys, current_session
from router.admin.deps import database, mutating, reading
from router.admin.forms import Form
from router.admin.security import PRE_SESSION_COOKIE, SESSION_COOKIE, SESSION_SECONDS
from router.admin.setup import SETUP_COUNTER, setup_open
from router.admin.web import admin_cookie, render, see_other
from router.store import admins as admin_store
from router.store.db import AlreadyExistsError
from router.store.models import utcnow

AnyRequest = Request[Any, Any, Any]
PUBLIC = {"public": True}


def _next_target(value: str | None) -> str:
    if value and value.startswith("/admin") and not value.startswith("//") and "\\" not in value:
        return value
    return "/admin"


def _signed_in(request: AnyRequest, username: str, target: str) -> Redirect:
    cookie_value, _session = admin_keys(request).issue_session(username)
    response = Redirect(target, status_code=303)
    response.set_cookie(admin_cookie(request, SESSION_COOKIE, cookie_value, max_age=SESSION_SECONDS))
    # The pre-session nonce has done its job; a new one is made if the visitor signs out.
    response.delete_cookie(PRE_SESSION_COOKIE, path="/admin")
    return response


def _wait_seconds(until: datetime | None) -> int:
    if until is None:
        return 1
    return max(1, math.ceil((until - utcnow()).total_seconds()))


class LoginController(Controller):
    path = "/admin"
    opt = PUBLIC

    @get("/login")
    async def login_page(self, request: AnyRequest, next: str | None = None) -> Template | Redirect:
        if current_session(request) is not None:
            return see_other(_next_target(next))
        return render(request, "admin/login.html", {"form": {"next": _next_target(next)}, "errors": {}})

    @post("/login")
    async def login(self, request: AnyRequest) -> Template | Redirect:
        form = Form(await request.form())
        username = form.text("username", required=True, label="User name") or ""
        password = form.values.get("password", "")
        if not password:
            form.error("password", "Password is required.")
        target = _next_target(form.raw("next"))
        context = {"form": {"username": form.raw("username"), "next": target}, "errors": form.errors}
        if not form.ok:
            return render(request, "admin/login.html", context, status=422)
        async with database(request).transaction() as session:
            result = await admin_store.verify_password(session, username, password)
        if result.status is admin_store.LoginStatus.LOCKED:
            seconds = _wait_seconds(result.locked_until)
            context["errors"] = {"form": f"Too many attempts, try again in {seconds} s."}
            return render(
                request, "admin/login.html", context, status=429, headers={"Retry-After": str(seconds)}
            )
        if not result.ok:
            context["errors"] = {"form": "Wrong user name or password."}
            return render(request, "admin/login.html", context, status=422)
        return _signed_in(request, username, target)

    @post("/logout")
    async def logout(self, request: AnyRequest) -> Redirect:
        response = Redirect("/admin/login?notice=signed_out", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/admin")
        return response

    @get("/setup")
    async def setup_page(self, request: AnyRequest, token: str | None = None) -> Template:
        async with reading(request) as session:
            open_ = await setup_open(session)
        if not open_ or not admin_keys(request).setup_valid(SETUP_COUNTER, token):
            return _setup_closed(request)
        return render(request, "admin/setup.html", {"token": token, "form": {}, "errors": {}})

    @post("/setup")
    async def setup(self, request: AnyRequest) -> Template | Redirect:
        form = Form(await request.form())
        token = form.raw("token")
        username = form.text("username", required=True, label="User name") or ""
        password = form.values.get("password", "")
        if password != form.values.get("password2", ""):
            form.error("password2", "The two passwords differ.")
        context: dict[str, Any] = {"token": token, "form": {"username": form.raw("username")}}
        async with mutating(request) as session:
            if not await setup_open(session) or not admin_keys(request).setup_valid(SETUP_COUNTER, token):
                return _setup_closed(request)
            if form.ok:
                try:
                    await admin_store.create_user(session, username, password, actor=username)
                except ValueError as exc:
                    field = "password" if "password" in str(exc) else "username"
                    form.error(field, _sentence(str(exc)))
                except AlreadyExistsError as exc:
                    form.error("username", _sentence(str(exc)))
            if not form.ok:
                await session.rollback()
                context["errors"] = form.errors
                return render(request, "admin/setup.html", context, status=422)
        return _signed_in(request, username, "/admin?notice=welcome")


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
