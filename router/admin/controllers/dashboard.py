"""/admin: today's traffic, errors, top tenants and models, and the last 24 hours by hour."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from router.admin.auth import AdminNotFoundError
from router.admin.chart import bar_chart
from router.admin.drift import config_drift
from router.admin.web import render
from router.store import tenants as tenant_store
from router.store import usage_reports as usage_store
from router.store.access import StoreAccess

AnyRequest = Request[Any, Any, Any]
TOP = 5


class DashboardController(Controller):
    path = "/admin"

    @get("/")
    async def dashboard(self, request: AnyRequest, store: StoreAccess) -> Template:
        now = datetime.now(UTC)
        midnight = datetime.combine(now.date(), time(), tzinfo=UTC)
        async with store.reading() as session:
            today = (await usage_store.aggregate_usage(session, since=midnight))[0]
            tenants = await usage_store.aggregate_usage(session, since=midnight, group_by="tenant")
            models = await usage_store.aggregate_usage(session, since=midnight, group_by="model")
            hourly = await usage_store.usage_timeseries(
                session, since=now - timedelta(hours=24), bucket="hour"
            )
            tenant_ids = {t.name: t.id for t in await tenant_store.list_tenants(session)}
            drift = await config_drift(session)
        chart = bar_chart([(row.name or "", float(row.requests)) for row in hourly])
        return render(
            request,
            "admin/dashboard.html",
            {
                "today": today,
                "top_tenants": tenants[:TOP],
                "top_models": models[:TOP],
                "chart": chart,
                "tenant_ids": tenant_ids,
                "drift": drift,
            },
        )

    @get("/{rest:path}")
    async def unknown_page(self, rest: str) -> Template:
        """Any other /admin path: the admin's own 404 page rather than the API's JSON error."""
        raise AdminNotFoundError("There is no such page.")
