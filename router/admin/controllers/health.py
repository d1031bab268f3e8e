"""Providers and targets health: this replica's cool-downs, and error rate, latency and the last error per
target over the last hour from the shared usage records (every replica); "test all" calls each target."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from router.admin.controllers.providers import provider_spec, run_test
from router.admin.health import target_health
from router.admin.web import render
from router.store import catalog, usage_records
from router.store.access import StoreAccess

AnyRequest = Request[Any, Any, Any]
WINDOW = timedelta(hours=1)
TEST_CONCURRENCY = 4


def cooling_targets(request: AnyRequest) -> list[str]:
    cooldowns = getattr(request.app.state, "cooldowns", None)
    return list(cooldowns.cooled()) if cooldowns is not None else []


async def configured_targets(session: Any) -> list[str]:
    """Every target the configuration can send a request to (rule targets and chain members)."""
    refs = {r.target for r in await catalog.list_all_rules(session) if r.target}
    for chain in await catalog.list_chains(session):
        refs.update(catalog.chain_refs(chain))
    return sorted(ref for ref in refs if not ref.startswith("pool/"))


class HealthController(Controller):
    path = "/admin/health"

    @get("/")
    async def health_page(self, request: AnyRequest, store: StoreAccess) -> Template:
        since = datetime.now(UTC) - WINDOW
        async with store.reading() as session:
            rows = await usage_records.recent_attempts(session, since)
            known = await configured_targets(session)
        return render(
            request,
            "admin/health.html",
            {
                "targets": target_health(rows, known, cooling_targets(request)),
                "window": "hour",
                "rows": len(rows),
            },
        )

    @post("/test")
    async def test_all(self, request: AnyRequest, store: StoreAccess) -> Template:
        """Call every configured target once (a tiny request each, a few at a time)."""
        async with store.reading() as session:
            refs = await configured_targets(session)
            providers = {p.name: p for p in await catalog.list_providers(session)}
            deployments = {d.name: d for d in await catalog.list_deployments(session)}
        gate = asyncio.Semaphore(TEST_CONCURRENCY)

        async def one(ref: str) -> tuple[str, bool, str]:
            head, _, rest = ref.partition("/")
            if head == "deployment" and rest in deployments:
                d = deployments[rest]
                spec_of, model = (lambda: provider_spec(request, d.provider, d.api_version)), d.deployment
            elif head in providers:
                p = providers[head]
                spec_of, model = (lambda: provider_spec(request, p)), rest
            else:
                return ref, False, "Not a configured provider or deployment."
            async with gate:
                ok, message = await run_test(request, spec_of, model)
            return ref, ok, message

        results = await asyncio.gather(*(one(ref) for ref in refs))
        return render(request, "admin/partials/health_tests.html", {"results": results})
