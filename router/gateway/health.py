"""Liveness, readiness and Prometheus metrics: no proxy key needed for the first two."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State

from router.lifecycle import Drain
from router.observability import metrics
from router.settings import Settings

# The process's readiness (services.py: Services.readiness): ready or not, and its checks (name -> passed).
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, bool]]]]


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(drain: Drain, readiness: Readiness) -> Response[dict[str, object]]:
    """Ready when the database answers, its schema is current and a routing snapshot is loaded (a replica
    that was ready rides out a database outage for a while); never while draining after SIGTERM (answered
    at once, without asking the database)."""
    if drain.draining:
        return Response({"ready": False, "draining": True}, status_code=503)
    ready, checks = await readiness()
    return Response({"ready": ready, **checks}, status_code=200 if ready else 503)


@get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request[Any, Any, State], settings: Settings) -> Response[bytes]:
    """Prometheus text format, for `Authorization: Bearer <ROUTER_METRICS_TOKEN>` only: with no token set
    nobody reads it here (its labels name tenants and targets). Signed-in admins read the same text at
    /admin/metrics, where the admin session cookie (path /admin) is sent and the admin guard decides."""
    token = settings.metrics_token
    auth = request.headers.get("authorization", "")
    if not (token and hmac.compare_digest(auth.encode(), f"Bearer {token}".encode())):
        return Response(
            b"metrics need Authorization: Bearer <ROUTER_METRICS_TOKEN> (admins: /admin/metrics)\n",
            status_code=401,
            media_type="text/plain",
        )
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
