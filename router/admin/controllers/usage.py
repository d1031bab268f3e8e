"""Usage: totals, a chart over time, the tables behind it; their CSV/JSON downloads (from the rollups), the
latest requests as CSV (capped), chargeback, and the JSON API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.response import Redirect, Stream, Template

from router.admin.auth import AdminNotFoundError
from router.admin.chart import METRICS, bar_chart
from router.admin.deps import can_see_tenant, visible_tenants
from router.admin.usage_filters import GROUPS, RANGES, UsageQuery, parse_usage_query
from router.admin.web import render
from router.store import keys as key_store
from router.store import tenants as tenant_store
from router.store import usage_chargeback as chargeback_store
from router.store import usage_records
from router.store import usage_reports as usage_store
from router.store.access import StoreAccess
from router.store.usage_overview import SessionFactory, usage_overview
from router.store.usage_records import REQUESTS_CSV_LIMIT
from router.store.usage_reports import GroupBy

AnyRequest = Request[Any, Any, Any]
TABLE_GROUPS: tuple[tuple[GroupBy, str], ...] = (
    ("tenant", "Tenant"),
    ("model", "Requested model"),
    ("target", "Target"),
    ("key", "Key"),
)
RECENT_LIMIT = 50
MAX_EXPORT_HOURS = 800


async def usage_tables(
    session: Any, query: UsageQuery, page: int = 1, sessions: SessionFactory | None = None
) -> dict[str, Any]:
    """The page's figures; with `sessions` PostgreSQL reads the rollups' time parts at once."""
    filters = query.store_filters()
    overview = await usage_overview(session, bucket=query.bucket, sessions=sessions, **filters)
    total, series, groups = overview.total, overview.series, overview.groups
    record_filters = usage_records.UsageFilters(**filters)
    recent = await usage_records.list_usage_records(
        session, record_filters, limit=RECENT_LIMIT, offset=(page - 1) * RECENT_LIMIT
    )
    # The rollups' request count is the number of records these filters match: no count over raw rows.
    pages = max(1, -(-total.requests // RECENT_LIMIT))
    prefixes = [r.key_prefix or "" for r in recent] + [r.name or "" for r in groups["key"]]
    return {
        "total": total,
        "series": series,
        "groups": groups,
        "recent": recent,
        "page": page,
        "pages": pages,
        "members": await key_store.members_by_prefix(session, prefixes),
    }


def export_query(request: AnyRequest) -> tuple[UsageQuery, tuple[str, ...]]:
    """The page's filters and the export's grouping (?by=tenant,model,…; default: the chart's bucket).
    A bad grouping is one more error on the query, under "by"."""
    query = parse_usage_query(request.query_params)
    by: tuple[str, ...] = (query.bucket,)
    raw = request.query_params.get("by", "")
    if raw:
        try:
            by = chargeback_store.parse_groups(raw, chargeback_store.EXPORT_GROUPS)
        except chargeback_store.ChargebackInputError as exc:
            query.errors["by"] = str(exc)
    if "hour" in by and ((query.until or datetime.now(UTC)) - query.since) > timedelta(
        hours=MAX_EXPORT_HOURS
    ):
        # Hours come from the hourly rollups: bounded like the chart's hourly buckets.
        query.errors["by"] = f"Group by hour over at most {MAX_EXPORT_HOURS} hours; use day or month."
    return query, by


async def grouped_download(request: AnyRequest, store: StoreAccess, fmt: str) -> Response[Any]:
    """/admin/usage.csv and .json: the rows of grouped_usage, or 422 with the fields at fault."""
    query, by = export_query(request)
    if query.errors:
        return Response({"errors": query.errors}, status_code=422)
    async with store.reading() as session:
        filters = usage_records.UsageFilters(**query.store_filters())
        rows = await chargeback_store.grouped_usage(session, filters, by)
    if fmt == "json":
        body = chargeback_store.export_json(rows, by, {"filters": query.as_dict()})
        media_type = "application/json"
    else:
        body, media_type = chargeback_store.chargeback_csv(rows, by), "text/csv; charset=utf-8"
    name = f"usage-{query.since:%Y%m%d}-{query.until or datetime.now(UTC):%Y%m%d}-by-{'-'.join(by)}.{fmt}"
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def last_month() -> str:
    first = datetime.now(UTC).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def page_number(request: AnyRequest) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


class UsageController(Controller):
    path = "/admin"

    @get("/usage")
    async def usage_page(self, request: AnyRequest, store: StoreAccess) -> Template:
        query = parse_usage_query(request.query_params)
        metric = request.query_params.get("metric", "requests")
        if metric not in METRICS:
            metric = "requests"
        async with store.reading() as session:
            data = await usage_tables(session, query, page_number(request), store.db.session)
            tenants = visible_tenants(request, await tenant_store.list_tenants(session))
        label, pick = METRICS[metric]
        chart = bar_chart([(row.name or "", pick(row)) for row in data["series"]])
        return render(
            request,
            "admin/usage.html",
            {
                **data,
                "query": query,
                "filters": query.values,
                "errors": query.errors,
                "ranges": RANGES,
                "tenants": tenants,
                "tenant_names": {t.id: t.name for t in tenants},
                "metric": metric,
                "metrics": METRICS,
                "metric_label": label,
                "chart": chart,
                "table_groups": TABLE_GROUPS,
                "query_string": request.url.query or "",
                "last_month": last_month(),
                "chargeback_groups": chargeback_store.CHARGEBACK_GROUPS,
                "export_groups": chargeback_store.EXPORT_GROUPS,
                "requests_csv_limit": REQUESTS_CSV_LIMIT,
                "page_query": urlencode([(k, v) for k, v in request.query_params.items() if k != "page"]),
                # The downloads take the filters (not the page's own settings) and add their `by`.
                "export_query": urlencode(
                    [(k, v) for k, v in request.query_params.items() if k not in ("page", "metric", "by")]
                    + [("by", "")]
                ),
            },
            status=422 if query.errors else 200,
        )

    @get("/usage.csv")
    async def usage_csv(self, request: AnyRequest, store: StoreAccess) -> Response[Any]:
        """The page's view as CSV: one row per group of ?by= (default: the chart's buckets) under the page's
        filters, from the rollups, costs exact."""
        return await grouped_download(request, store, "csv")

    @get("/usage.json")
    async def usage_export_json(self, request: AnyRequest, store: StoreAccess) -> Response[Any]:
        """The same rows as /admin/usage.csv, as JSON with the filters and the total."""
        return await grouped_download(request, store, "json")

    @get("/usage/requests.csv")
    async def requests_csv(self, request: AnyRequest, store: StoreAccess) -> Stream | Response[Any]:
        """The latest requests (raw records, newest first) under the page's filters, at most
        REQUESTS_CSV_LIMIT of them: the latest-requests list as a file, not the range's every request."""
        query = parse_usage_query(request.query_params)
        if query.errors:
            return Response({"errors": query.errors}, status_code=422)
        db = store.db
        filters = usage_records.UsageFilters(**query.store_filters())

        async def lines() -> AsyncIterator[str]:
            # The session lives as long as the download streams.
            async with db.session() as session:
                async for line in usage_records.export_usage_csv(session, filters, REQUESTS_CSV_LIMIT):
                    yield line

        name = f"usage-requests-latest-{REQUESTS_CSV_LIMIT}-{query.since:%Y%m%d}"
        return Stream(
            lines(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )

    @get("/usage/chargeback")
    async def chargeback_download(self, request: AnyRequest, store: StoreAccess) -> Response[Any]:
        """One month per group (?month=YYYY-MM&by=tenant,member,model&format=csv|json), from the rollups;
        a tenant-scoped admin gets only their tenants' rows."""
        month = request.query_params.get("month", "")
        errors: dict[str, str] = {}
        try:
            start, end = chargeback_store.parse_month(month)
        except chargeback_store.ChargebackInputError as exc:
            errors["month"] = str(exc)
        try:
            by = chargeback_store.parse_groups(request.query_params.get("by", "tenant,member,model"))
        except chargeback_store.ChargebackInputError as exc:
            errors["by"] = str(exc)
        fmt = request.query_params.get("format", "csv")
        if fmt not in ("csv", "json"):
            errors["format"] = "Use csv or json."
        if errors:
            return Response({"errors": errors}, status_code=422)
        async with store.reading() as session:
            everything = await tenant_store.list_tenants(session)
            visible = visible_tenants(request, everything)
            scope = None if len(visible) == len(everything) else [t.id for t in visible]
            rows = await chargeback_store.chargeback(session, start, end, by, tenant_ids=scope)
        if fmt == "json":
            body = chargeback_store.chargeback_json(rows, by, month)
            return Response(body, media_type="application/json")
        return Response(
            chargeback_store.chargeback_csv(rows, by),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="chargeback-{month}.csv"'},
        )

    @get("/api/usage")
    async def usage_json(self, request: AnyRequest, store: StoreAccess) -> Response[Any]:
        """Totals, optionally grouped (?group_by=model|key|target|tenant|day|hour|month)."""
        query = parse_usage_query(request.query_params)
        raw_group = request.query_params.get("group_by") or None
        group_by: GroupBy | None = None
        if raw_group is not None:
            if raw_group in GROUPS:
                group_by = raw_group
            else:
                query.errors["group_by"] = f"Use one of {', '.join(GROUPS)}."
        if query.errors:
            return Response({"errors": query.errors}, status_code=422)
        async with store.reading() as session:
            rows = await usage_store.aggregate_usage(session, **query.store_filters(), group_by=group_by)
        return Response(
            {"filters": query.as_dict(), "group_by": group_by, "rows": [r.as_dict() for r in rows]}
        )

    @get("/api/usage/timeseries")
    async def usage_timeseries_json(self, request: AnyRequest, store: StoreAccess) -> Response[Any]:
        query = parse_usage_query(request.query_params)
        if query.errors:
            return Response({"errors": query.errors}, status_code=422)
        async with store.reading() as session:
            rows = await usage_store.usage_timeseries(session, bucket=query.bucket, **query.store_filters())
        return Response({"filters": query.as_dict(), "rows": [r.as_dict() for r in rows]})


class RequestsController(Controller):
    """One request's detail: what was asked, every attempt (target, status, error, latency), TTFT, cost."""

    path = "/admin/requests"

    @get("/")
    async def find_request(self, request: AnyRequest, store: StoreAccess) -> Redirect:
        """?id=REQUEST_ID (or a row id): to that request's detail page."""
        ref = request.query_params.get("id", "").strip()
        record = None
        if ref and len(ref) <= 64:
            async with store.reading() as session:
                record = await usage_records.find_usage_record(session, ref)
        if record is None or not can_see_tenant(request, record.tenant_id):
            raise AdminNotFoundError(f"There is no request with id {ref[:64]!r}.")
        return Redirect(path=f"/admin/requests/{record.id}")

    @get("/{record_id:int}")
    async def request_detail(self, request: AnyRequest, record_id: int, store: StoreAccess) -> Template:
        async with store.reading() as session:
            record = await usage_records.get_usage_record(session, record_id)
            if record is None or not can_see_tenant(request, record.tenant_id):
                raise AdminNotFoundError(f"There is no request with id {record_id}.")
            tenants = {t.id: t.name for t in await tenant_store.list_tenants(session)}
            members = await key_store.members_by_prefix(session, [record.key_prefix or ""])
        return render(
            request,
            "admin/request.html",
            {"r": record, "tenant_name": tenants.get(record.tenant_id or -1), "members": members},
        )
