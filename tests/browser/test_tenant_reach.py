"""A tenant-admin, in a real browser, reads what their tenant can reach: their rules and the global ones, in
order, with the targets left after the tenant's allowed targets; nothing of another tenant, no base URL, no
credential; another tenant's page is a 404. The page passes axe and does not scroll sideways on a phone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from router.store.db import Database
from router.store.tenants import get_tenant_by_name
from tests.admin.conftest import ADMIN_PASSWORD, create_admin
from tests.browser.site import (
    PHONE,
    SEED,
    assert_clean,
    axe_violations,
    db_url,
    new_page,
    shot,
    sideways_overflow,
)
from tests.fixtures.app import LiveRouter
from tests.fixtures.db import run_async

__all__ = ["db_url"]

pytestmark = pytest.mark.browser

TENANTS = """
tenants:
  - name: acme
    allowed_targets: ["oai/*"]
    rules:
      - {match: "claude-opus-*", target: oai/gpt-4.1}
  - name: globex
    rules:
      - {match: "globex-only-*", target: deployment/gpt4o-eu, description: "globex private rule"}
"""


def test_a_tenant_admin_sees_the_global_rules_and_targets_their_tenant_reaches(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    live_router.apply(SEED + TENANTS)

    async def lead() -> None:
        db = Database(live_router.settings.database_url)
        try:
            await create_admin(db, "lead", role="tenant-admin", tenants=["acme"])
        finally:
            await db.dispose()

    async def globex_id() -> int:
        db = Database(live_router.settings.database_url)
        try:
            async with db.session() as session:
                tenant = await get_tenant_by_name(session, "globex")
                assert tenant is not None
                return tenant.id
        finally:
            await db.dispose()

    run_async(lead())
    globex = run_async(globex_id())
    base = live_router.base_url
    context, page = new_page(chromium)
    try:
        page.goto(f"{base}/admin/login")
        page.get_by_label("User name").fill("lead")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/admin/tenants$"))
        page.get_by_role("link", name="acme").click()
        page.get_by_role("link", name="What acme can reach").click()
        page.wait_for_url(re.compile(r"/admin/tenants/\d+/reach$"))
        assert page.get_by_role("heading", name="What acme can reach").is_visible()
        targets = page.locator("section", has=page.get_by_role("heading", name="Targets")).inner_text()
        # acme's own rule, then the global haiku and catch-all rules; the global opus chain is caught by
        # acme's rule first, so the Azure deployment (outside oai/* anyway) is not reachable.
        assert "oai/gpt-4.1" in targets and "oai/gpt-4.1-mini" in targets
        assert "deployment/gpt4o-eu" not in targets
        global_rules = page.locator(
            "section", has=page.get_by_role("heading", name="Global rules")
        ).inner_text()
        assert "claude-haiku-*" in global_rules and "never reached" in global_rules
        body = page.locator("main").inner_text()
        for leak in ("globex", live_router.upstream.base_url, "provider-credential"):
            assert leak not in body and leak not in page.content(), leak
        assert axe_violations(page) == []
        shot(page, screenshots, "tenant-reach-desktop")
        reach_url = page.url
        page.set_viewport_size(PHONE)
        page.goto(reach_url)
        assert sideways_overflow(page) == 0
        assert axe_violations(page) == []
        shot(page, screenshots, "tenant-reach-phone")
        assert_clean(page)
        assert page.goto(f"{base}/admin/tenants/{globex}/reach").status == 404
        assert page.goto(f"{base}/admin/providers").status == 403
    finally:
        context.close()
