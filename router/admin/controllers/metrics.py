"""/admin/metrics: the Prometheus text of this replica for a signed-in admin (the admin guard decides, as for
every page: unrestricted roles only, since the labels name every tenant). Scrapers use /metrics with the
metrics token instead."""

from __future__ import annotations

from litestar import Controller, Response, get

from router.observability import metrics


class MetricsController(Controller):
    path = "/admin/metrics"

    @get("/")
    async def metrics_text(self) -> Response[bytes]:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
