"""What a failed browser test leaves behind: every request and answer its pages made, console lines, htmx
errors, and a screenshot, the flash area and the HTML of each page still open.

A browser test that fails in CI under load is otherwise a bare timeout ("waiting for locator ... to be
visible") that says nothing about whether the click was lost, the answer was an error, or the swap went
elsewhere. The record is bounded and costs a few list appends per request.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

# htmx reports a refused answer, a failed send or a missing target only as DOM events; say them on the console.
HTMX_EVENTS = """
for (const name of ["htmx:responseError", "htmx:sendError", "htmx:targetError", "htmx:swapError",
                    "htmx:timeout", "htmx:beforeRequest", "htmx:afterSettle"]) {
  document.addEventListener(name, function (event) {
    const detail = event.detail || {};
    const path = (detail.pathInfo && detail.pathInfo.requestPath) || "";
    const status = detail.xhr ? detail.xhr.status : "";
    const target = event.target && event.target.id ? "#" + event.target.id : (event.target && event.target.tagName);
    console.debug(name + " " + (detail.requestConfig ? detail.requestConfig.verb : "") + " " + path + " " +
                  status + " on " + target);
  });
}
"""


class RecordingBrowser:
    """Playwright's Browser, whose new contexts record what their pages do (the last 400 events)."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self._log: deque[str] = deque(maxlen=400)
        self._contexts: list[Any] = []
        self._started = time.monotonic()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)

    def start_test(self) -> None:
        self._log.clear()
        self._contexts = []
        self._started = time.monotonic()

    def _note(self, line: str) -> None:
        self._log.append(f"{time.monotonic() - self._started:8.3f}s {line}")

    def new_context(self, **options: Any) -> Any:
        context = self._browser.new_context(**options)
        context.add_init_script(HTMX_EVENTS)
        context.on("request", lambda r: self._note(f"> {r.method} {r.url}"))
        context.on("response", lambda r: self._note(f"< {r.status} {r.request.method} {r.url}"))
        context.on("requestfailed", lambda r: self._note(f"! {r.method} {r.url} failed: {r.failure}"))
        context.on("console", lambda m: self._note(f"console {m.type}: {m.text}"))
        context.on("weberror", lambda e: self._note(f"page error: {e.error}"))
        self._contexts.append(context)
        return context

    def evidence(self, test_name: str) -> str:
        lines = list(self._log)
        folder = (
            Path(os.environ.get("ROUTER_SCREENSHOT_DIR") or tempfile.gettempdir()) / "failed-browser-tests"
        )
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)[:120]
        for c, context in enumerate(self._contexts):
            for p, page in enumerate(_open_pages(context)):
                where = folder / f"{stem}-{c}-{p}"
                lines.append(f"page {c}.{p}: {page.url}")
                try:
                    where.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=f"{where}.png", full_page=True, timeout=5_000)
                    where.with_suffix(".html").write_text(page.content())
                    lines.append(f"  saved {where}.png and {where}.html")
                    flash = page.locator("#flash")
                    if flash.count():
                        lines.append(f"  #flash: {flash.inner_text(timeout=2_000)!r}")
                    focused = page.evaluate(
                        "() => document.activeElement && document.activeElement.outerHTML"
                    )
                    lines.append(f"  focus: {str(focused)[:300]}")
                except Exception as exc:  # evidence is best effort; the test's own failure is the report
                    lines.append(f"  could not save the page: {exc!r}")
        return "\n".join(lines)


def _open_pages(context: Any) -> list[Any]:
    try:
        return list(context.pages)
    except Exception:
        return []
