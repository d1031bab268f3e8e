"""The dashboard, usage page, CSV and JSON endpoints over recorded usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from router.store import tenants as tenant_store
from router.store.usage_writes import UsageEvent, write_usage_batch
from tests.admin.conftest import AdminClient


async def record_usage(client: AdminClient) -> int:
    now = datetime.now(UTC)
    async with client.db.transaction() as session:
        tenant = await tenant_store.create_tenant(session, "acme", actor="test")
        rows = [
            UsageEvent(
                created_at=now - timedelta(minutes=5),
                request_id="r1",
                tenant_id=tenant.id,
                key_prefix="sk-rt-AAAAAA",
                member="ann",
                requested_model="claude-sonnet-4",
                target="oa/gpt-4.1",
                input_tokens=100,
                output_tokens=20,
                cost_usd=0.5,
                outcome="ok",
            ),
            UsageEvent(
                created_at=now - timedelta(minutes=3),
                request_id="r2",
                tenant_id=tenant.id,
                key_prefix="sk-rt-BBBBBB",
                member="bob",
                requested_model="=cmd|calc",
                target=None,
                status=502,
                outcome="error",
            ),
        ]
        # Through the usage writer: raw rows and their hourly rollups, which the pages' aggregates read.
        await write_usage_batch(session, rows)
    return tenant.id


async def test_dashboard_shows_today(admin: AdminClient) -> None:
    await record_usage(admin)
    page = await admin.get("/admin")
    assert page.status_code == 200
    assert "claude-sonnet-4" in page.text and "acme" in page.text and "<svg" in page.text


async def test_usage_page_filters_by_tenant_and_key(admin: AdminClient) -> None:
    tenant_id = await record_usage(admin)
    page = await admin.get(f"/admin/usage?range=24h&tenant_id={tenant_id}&key_prefix=sk-rt-AAAAAA")
    assert page.status_code == 200
    assert "claude-sonnet-4" in page.text and "=cmd|calc" not in page.text
    everything = await admin.get("/admin/usage?range=7d&metric=cost")
    assert "=cmd|calc" in everything.text and "Cost (USD) per day" in everything.text


async def test_bad_filters_are_shown_next_to_the_fields(admin: AdminClient) -> None:
    page = await admin.get("/admin/usage?range=custom&since=yesterday&tenant_id=abc")
    assert page.status_code == 422
    assert "Use a date like" in page.text and "Choose a tenant" in page.text
    assert 'value="yesterday"' in page.text


async def test_the_page_downloads_its_view_from_the_rollups_with_exact_costs(admin: AdminClient) -> None:
    tenant_id = await record_usage(admin)
    page = await admin.get("/admin/usage?range=24h&metric=cost")
    assert 'href="/admin/usage.csv?range=24h&amp;by=hour"' in page.text
    assert 'href="/admin/usage.json?range=24h&amp;by=tenant"' in page.text
    response = await admin.http.get("/admin/usage.csv?range=24h&by=tenant,model")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "-by-tenant-model.csv" in response.headers["content-disposition"]
    assert response.text.splitlines() == [
        "tenant,model,requests,errors,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,cost_usd",
        "acme,claude-sonnet-4,1,0,100,20,0,0,0.500000000",
        "acme,'=cmd|calc,1,1,0,0,0,0,0.000000000",
    ]
    # Without ?by= the rows are the chart's buckets; the filters narrow them as on the page.
    per_hour = await admin.http.get(
        f"/admin/usage.json?range=24h&tenant_id={tenant_id}&key_prefix=sk-rt-AAAAAA"
    )
    body = per_hour.json()
    assert body["by"] == ["hour"] and body["filters"]["key_prefix"] == "sk-rt-AAAAAA"
    assert body["total"]["requests"] == 1 and body["total"]["cost_usd"] == "0.500000000"
    assert [row["requests"] for row in body["rows"]] == [1]
    bad = await admin.http.get("/admin/usage.csv?range=fortnight&by=colour")
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"range", "by"}
    too_many_hours = await admin.http.get("/admin/usage.json?range=90d&by=hour")
    assert too_many_hours.status_code == 422 and "by" in too_many_hours.json()["errors"]


async def test_the_latest_requests_download_is_raw_newest_first_and_capped(admin: AdminClient) -> None:
    await record_usage(admin)
    page = await admin.get("/admin/usage?range=24h")
    assert "Download the latest 10,000 requests" in page.text
    response = await admin.http.get("/admin/usage/requests.csv?range=24h")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="usage-requests-latest-10000-' in response.headers["content-disposition"]
    lines = response.text.strip().splitlines()
    assert lines[0].startswith("created_at,request_id") and len(lines) == 3
    assert lines[1].split(",")[1] == "r2" and "'=cmd|calc" in lines[1]


async def test_json_api_groups_and_requires_a_session(admin: AdminClient) -> None:
    await record_usage(admin)
    grouped = await admin.http.get("/admin/api/usage?range=24h&group_by=model")
    assert grouped.status_code == 200
    rows = {row["name"]: row for row in grouped.json()["rows"]}
    assert rows["claude-sonnet-4"]["input_tokens"] == 100 and rows["=cmd|calc"]["errors"] == 1
    series = await admin.http.get("/admin/api/usage/timeseries?range=24h")
    assert sum(row["requests"] for row in series.json()["rows"]) == 2
    bad = await admin.http.get("/admin/api/usage?group_by=colour")
    assert bad.status_code == 422 and "group_by" in bad.json()["errors"]
    admin.http.cookies.clear()
    assert (await admin.http.get("/admin/api/usage")).status_code == 303


async def test_chargeback_download_for_a_month_with_exact_costs(admin: AdminClient) -> None:
    await record_usage(admin)
    month = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m")
    page = await admin.get("/admin/usage?range=24h")
    assert 'action="/admin/usage/chargeback"' in page.text
    response = await admin.http.get(f"/admin/usage/chargeback?month={month}&by=tenant,member,model")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert f'filename="chargeback-{month}.csv"' in response.headers["content-disposition"]
    lines = response.text.strip().splitlines()
    assert lines[0] == (
        "tenant,member,model,requests,errors,input_tokens,output_tokens,cache_read_tokens,"
        "cache_write_tokens,cost_usd"
    )
    assert lines[1] == "acme,ann,claude-sonnet-4,1,0,100,20,0,0,0.500000000"
    assert lines[2] == "acme,bob,'=cmd|calc,1,1,0,0,0,0,0.000000000"
    as_json = await admin.http.get(f"/admin/usage/chargeback?month={month}&by=model&format=json")
    assert as_json.json()["total"] == {
        "requests": 2, "errors": 1, "input_tokens": 100, "output_tokens": 20, "cache_read_tokens": 0,
        "cache_write_tokens": 0, "cost_usd": "0.500000000",
    }  # fmt: skip
    bad = await admin.http.get("/admin/usage/chargeback?month=2025-13&by=colour&format=xls")
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"month", "by", "format"}


async def test_a_request_is_found_by_its_request_id(admin: AdminClient) -> None:
    await record_usage(admin)
    found = await admin.http.get("/admin/requests/?id=r2", follow_redirects=False)
    assert found.status_code in (302, 303) and found.headers["location"].startswith("/admin/requests/")
    detail = await admin.get(found.headers["location"])
    assert detail.status_code == 200 and "r2" in detail.text and "=cmd|calc" in detail.text
    missing = await admin.http.get("/admin/requests/?id=nope")
    assert missing.status_code == 404


async def test_the_request_page_says_why_an_attempt_failed(admin: AdminClient) -> None:
    async with admin.db.transaction() as session:
        tenant = await tenant_store.create_tenant(session, "acme", actor="test")
        failed = {
            "target": "gem/gemini-2.5-pro",
            "status": 502,
            "error_type": "api_error",
            "latency_ms": 40,
            "error": "gem/gemini-2.5-pro: the upstream's answer is larger than the router accepts (1,024 bytes)",
            "failure": "upstream_too_large",
        }
        row = UsageEvent(
            datetime.now(UTC), "r-capped", tenant_id=tenant.id, attempts=[failed], status=502, outcome="error"
        )
        await write_usage_batch(session, [row])
    found = await admin.http.get("/admin/requests/?id=r-capped", follow_redirects=False)
    detail = await admin.get(found.headers["location"])
    assert detail.status_code == 200
    assert (
        "<code>upstream_too_large</code>" in detail.text and "larger than the router accepts" in detail.text
    )
