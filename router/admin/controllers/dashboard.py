"""/admin: today's traffic, errors, top tenants and models."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from router.admin.web import render

AnyRequest = Request[Any, Any, Any]


class DashboardController(Controller):
    path = "/admin"

    @get("/")
    async def dashboard(self, request: AnyRequest) -> Template:
        return render(request, "admin/dashboard.html", {})
