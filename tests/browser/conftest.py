"""A real Chromium (Debian's, at /usr/bin/chromium) driven by Playwright, for the admin page.

Browser tests are skipped only when Chromium is absent and ROUTER_REQUIRE_BROWSER is not "1" (CI sets it).
When one fails, its report carries what the browser saw (tests/browser/evidence.py).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.evidence import RecordingBrowser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Module scope: Playwright's sync API keeps an event loop running in this thread while it is open, which
# async tests in other modules must not see.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("ROUTER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"ROUTER_REQUIRE_BROWSER=1 but {CHROMIUM} is missing", pytrace=False)
        pytest.skip(f"{CHROMIUM} is not installed (set ROUTER_REQUIRE_BROWSER=1 to make this a failure)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield RecordingBrowser(browser)
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call" and report.failed and "chromium" in getattr(item, "fixturenames", ()):
        recorder: RecordingBrowser | None = getattr(item, "funcargs", {}).get("chromium")
        if recorder is not None:
            report.sections.append(("what the browser saw", recorder.evidence(item.name)))
    return report


@pytest.fixture(autouse=True)
def _fresh_browser_record(request: pytest.FixtureRequest) -> None:
    if "chromium" in request.fixturenames:
        recorder = request.getfixturevalue("chromium")
        if isinstance(recorder, RecordingBrowser):
            recorder.start_test()


@pytest.fixture
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a test saves screenshots (ROUTER_SCREENSHOT_DIR keeps them somewhere known)."""
    wanted = os.environ.get("ROUTER_SCREENSHOT_DIR")
    if wanted:
        path = Path(wanted)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")
