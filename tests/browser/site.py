"""What the admin browser tests share: a seeded service, signing in, axe-core, sideways-scroll checks and
screenshots at the two widths every page is checked at (1280 px desktop, 390 px phone)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from router.store.db import Database
from tests.admin.conftest import ADMIN_PASSWORD, ADMIN_USER, create_admin
from tests.fixtures.app import LiveRouter
from tests.fixtures.db import run_async

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
AXE = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / "axe-core" / "axe.min.js"

SEED = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
  - {name: azure-eu, kind: azure, api_base: "${UPSTREAM}", api_key: "${AZURE_API_KEY}", api_version: "2024-10-21"}
deployments:
  - {name: gpt4o-eu, provider: azure-eu, deployment: gpt-4o-prod, model: gpt-4o}
chains:
  - {name: big, targets: [oai/gpt-4.1, deployment/gpt4o-eu]}
rules:
  - {match: "claude-haiku-*", target: oai/gpt-4.1-mini, description: "small and quick"}
  - {match: "claude-opus-*", when: {thinking: true}, chain: big}
  - {match: "*", target: oai/gpt-4.1}
"""


@dataclass
class Site:
    """A running router with an admin account, a tenant with a key, providers, a chain and rules."""

    live: LiveRouter
    key: str

    @property
    def base(self) -> str:
        return self.live.base_url


def seed_site(live: LiveRouter, *, config: str = SEED) -> Site:
    live.apply(config)
    key = live.key("acme", "ann@example.com")

    async def admin() -> None:
        db = Database(live.settings.database_url)
        try:
            await create_admin(db)
        finally:
            await db.dispose()

    run_async(admin())
    return Site(live=live, key=key)


def sign_in(page: Any, site: Site) -> None:
    page.goto(f"{site.base}/admin/login")
    page.get_by_label("User name").fill(ADMIN_USER)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/admin/?(\?.*)?$"))


def new_page(
    chromium: Any, site: Site | None = None, *, viewport: dict[str, int] = DESKTOP
) -> tuple[Any, Any]:
    """A fresh browser context (signed in when `site` is given) and its page; page errors fail the test."""
    context = chromium.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None,
    )
    page.problems = problems  # read by assert_clean
    if site is not None:
        sign_in(page, site)
    return context, page


def assert_clean(page: Any) -> None:
    """No script error and no console error (a CSP violation is reported there) so far."""
    # Form errors (422) and the not-found page (404) are answers on purpose; the browser logs them anyway.
    problems = [p for p in page.problems if not re.search(r"status of (404|422)\b", p)]
    assert problems == [], problems


def axe_path() -> Path:
    if not AXE.exists():
        if os.environ.get("ROUTER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"ROUTER_REQUIRE_BROWSER=1 but {AXE} is missing: run `make axe`", pytrace=False)
        pytest.skip("axe-core is not installed (make axe)")
    return AXE


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page as it is now.

    The script is evaluated through the DevTools protocol, which the page's Content-Security-Policy does not
    govern, so the policy under test stays exactly what the service sends."""
    page.evaluate(axe_path().read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def sideways_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when nothing scrolls sideways)."""
    return int(
        page.evaluate(
            "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - document.documentElement.clientWidth"
        )
    )


def shot(page: Any, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: the store is proven on both backends elsewhere; these tests prove the page."""
    from tests.fixtures.db import _sqlite_copy

    return _sqlite_copy(sqlite_template, tmp_path)


def add_usage(live: LiveRouter, records: list[dict[str, Any]]) -> None:
    """Usage rows written straight to the database by the usage writer's batch (raw rows and rollups)."""
    from router.store.usage_writes import UsageEvent, write_usage_batch

    async def run() -> None:
        db = Database(live.settings.database_url)
        try:
            async with db.transaction() as session:
                await write_usage_batch(session, [UsageEvent(**r) for r in records])
        finally:
            await db.dispose()

    run_async(run())
