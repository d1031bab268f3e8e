"""Issue 19's key and usage defects in a real browser: post/redirect/get with a one-time key reveal, usage
tables that fit without clipping or mid-word breaks, readable small costs and chart text on a phone, and
the request detail page behind every usage row."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.site import (
    DESKTOP,
    PHONE,
    add_usage,
    assert_clean,
    db_url,
    new_page,
    seed_site,
    shot,
    sideways_overflow,
)
from tests.fixtures.app import LiveRouter

__all__ = ["db_url"]

pytestmark = pytest.mark.browser

LONG_MODEL = "claude-sonnet-4-5-20250929-extended-context-preview"
LONG_TARGET = "azure-eu-production/deployment-gpt-4o-2024-11-20-global-standard"

# Where each character of an element's text starts a new line, and the character before it.
LINE_BREAKS = """(el) => {
  const out = []; const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  const range = document.createRange(); let top = null; let prev = '';
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      range.setStart(node, i); range.setEnd(node, i + 1);
      const r = range.getBoundingClientRect();
      if (r.width === 0) { prev = node.data[i]; continue; }
      if (top !== null && r.top > top + 2) out.push(prev);
      top = r.top; prev = node.data[i];
    }
  }
  return out;
}"""


def usage_rows(tenant_id: int | None = None) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "created_at": now - timedelta(minutes=i),
            "request_id": f"req-{i:04d}",
            "tenant_id": tenant_id,
            "key_prefix": "sk-rt-AbCdEf",
            "member": "ann@example.com",
            "requested_model": LONG_MODEL,
            "target": LONG_TARGET,
            "input_tokens": 12,
            "output_tokens": 3,
            "cost_usd": 0.000012,
            "latency_ms": 1234,
            "ttft_ms": 321,
            "attempts": [
                {"target": "oai/gpt-4.1", "status": 503, "error_type": "overloaded_error", "latency_ms": 40},
                {"target": LONG_TARGET, "status": 200, "error_type": None, "latency_ms": 1190},
            ],
            "outcome": "ok",
        }
        for i in range(60)
    ]


def test_reloading_the_key_issued_page_issues_no_second_key(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    site = seed_site(live_router)
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin/tenants")
    page.get_by_role("link", name="acme").click()
    keys_before = page.locator("#keys-title + .table-wrap tbody tr").count()
    page.get_by_text("Issue a key").click()
    page.get_by_label("Member", exact=True).fill("bob@example.com")
    page.get_by_role("button", name="Issue key").click()
    key = page.locator("#issued-key").input_value()
    assert key.startswith("sk-rt-")
    assert re.search(r"/admin/tenants/\d+\?notice=issued$", page.url), page.url  # a GET page, not the POST
    shot(page, screenshots, "defect4-key-issued-1280")
    page.reload()
    assert page.locator("#issued-key").count() == 0, "the key must be shown only once"
    assert key not in page.content()
    assert page.locator("#keys-title + .table-wrap tbody tr").count() == keys_before + 1
    assert_clean(page)
    context.close()


@pytest.mark.parametrize("width", [1280, 1600])
def test_usage_tables_fit_names_break_only_at_separators_and_small_costs_show(
    chromium: Any, live_router: LiveRouter, screenshots: Path, width: int
) -> None:
    site = seed_site(live_router)
    add_usage(live_router, usage_rows())
    context, page = new_page(chromium, site, viewport={"width": width, "height": 900})
    page.goto(f"{site.base}/admin/usage?range=today")
    wraps = page.locator("main .table-wrap")
    for i in range(wraps.count()):
        if not wraps.nth(i).is_visible():
            continue
        clipped = wraps.nth(i).evaluate("(el) => el.scrollWidth - el.clientWidth")
        assert clipped <= 0, f"table {i} is clipped by {clipped}px at {width}px"
    codes = page.locator("main .table-wrap td code")
    for i in range(codes.count()):
        breaks = codes.nth(i).evaluate(LINE_BREAKS)
        assert all(c in "-/._ " for c in breaks), (codes.nth(i).inner_text(), breaks)
    assert "$0.000012" in page.locator("main table.requests").inner_text()
    assert "ann@example.com" in page.locator("main table.requests").inner_text()
    # Latest requests page: 50 per page, then "Older".
    assert page.locator("main table.requests tbody tr").count() == 50
    page.get_by_role("link", name="Older →").click()
    page.wait_for_url(re.compile(r"page=2"))
    assert page.locator("main table.requests tbody tr").count() == 10
    page.get_by_role("link", name="← Newer").wait_for()
    shot(page, screenshots, f"defect5-usage-{width}")
    assert_clean(page)
    context.close()


def test_request_detail_shows_every_attempt_with_status_error_latency_and_ttft(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    site = seed_site(live_router)
    add_usage(live_router, usage_rows()[:1])
    context, page = new_page(chromium, site)
    page.goto(f"{site.base}/admin/usage?range=today")
    page.locator("main table.requests tbody tr").first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/admin/requests/\d+$"))
    assert "req-0000" in page.locator("h1").inner_text()
    facts = page.locator("dl.facts").inner_text()
    assert "321 ms" in facts and "1,234 ms" in facts and "ann@example.com" in facts
    attempts = page.locator("main table tbody tr")
    assert attempts.count() == 2
    first, second = attempts.nth(0).inner_text(), attempts.nth(1).inner_text()
    assert "oai/gpt-4.1" in first and "503" in first and "overloaded_error" in first and "40 ms" in first
    assert LONG_TARGET in second and "200" in second
    shot(page, screenshots, "request-detail-1280")
    page.set_viewport_size(PHONE)
    assert sideways_overflow(page) == 0
    shot(page, screenshots, "request-detail-390")
    assert_clean(page)
    context.close()


def test_chart_axis_text_is_readable_on_a_phone(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    site = seed_site(live_router)
    add_usage(live_router, usage_rows()[:5])
    context, page = new_page(chromium, site, viewport=PHONE)
    for path in ("/admin", "/admin/usage?range=today"):
        page.goto(f"{site.base}{path}")
        texts = page.locator(".chart svg text")
        assert texts.count() >= 3
        for i in range(texts.count()):
            if not texts.nth(i).is_visible():  # middle date labels are left out on a phone
                continue
            box = texts.nth(i).bounding_box()
            assert box is not None
            assert box["height"] >= 10, (
                f"axis text {texts.nth(i).text_content()!r} is {box['height']:.1f}px tall"
            )
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert sideways_overflow(page) == 0
    shot(page, screenshots, "defect6-chart-390")
    page.set_viewport_size(DESKTOP)
    assert_clean(page)
    context.close()
