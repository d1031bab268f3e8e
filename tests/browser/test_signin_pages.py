"""The page a developer sees when Claude Code signs in: fits a phone, passes axe, no CSP or script errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.site import (
    DESKTOP,
    PHONE,
    assert_clean,
    axe_violations,
    db_url,
    new_page,
    shot,
    sideways_overflow,
)
from tests.fixtures.app import LiveRouter

__all__ = ["db_url"]


def test_the_device_page_fits_a_phone_and_passes_axe(
    chromium: Any, live_router: LiveRouter, screenshots: Path
) -> None:
    context, page = new_page(chromium, viewport=PHONE)
    failures: list[str] = []
    for label, viewport in (("390", PHONE), ("1280", DESKTOP)):
        page.set_viewport_size(viewport)
        response = page.goto(f"{live_router.base_url}/device?user_code=BCDF-GHJK")
        assert response is not None and response.status == 200
        assert "form-action 'self'" in response.headers["content-security-policy"]
        assert page.input_value("#user_code") == "BCDF-GHJK"
        if label == "390" and (overflow := sideways_overflow(page)) > 0:
            failures.append(f"scrolls {overflow}px sideways at 390 px")
        failures += [f"axe at {label}: {v}" for v in axe_violations(page)]
        shot(page, screenshots, f"device-{label}")
    assert failures == [], failures
    assert_clean(page)
    context.close()
