"""Hardening fixtures: the real service on SQLite only (most fault tests do not depend on the backend),
with settings a test can override, and a standard configuration pointing at the fake upstream."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from router.app import create_app
from tests.fakes.upstream import FakeUpstream
from tests.fixtures.app import LiveRouter, ServerThread, router_settings

# Two OpenAI-wire providers on the fake upstream (a chain can fall back from one to the other) and one
# provider at a port nothing listens on.
CHAIN_CONFIG = """
providers:
  - {{name: oai, kind: openai, api_base: "${{UPSTREAM}}/v1", api_key: "${{OPENAI_API_KEY}}"}}
  - {{name: backup, kind: openai, api_base: "${{UPSTREAM}}/v1", api_key: "${{OPENAI_API_KEY}}"}}
  - {{name: dead, kind: openai, api_base: "http://127.0.0.1:{dead_port}/v1", api_key: "${{OPENAI_API_KEY}}"}}
chains:
  - {{name: main, retries: 0, backoff_ms: 10, targets: [oai/gpt-4.1, backup/gpt-4o-mini]}}
  - {{name: from-dead, retries: 0, backoff_ms: 10, targets: [dead/gpt-4.1, backup/gpt-4o-mini]}}
rules:
  - {{match: "claude-dead-only", target: dead/gpt-4.1}}
  - {{match: "claude-from-dead", chain: from-dead}}
  - {{match: "claude-single", target: oai/gpt-4.1}}
  - {{match: "*", chain: main}}
"""

StartRouter = Callable[..., LiveRouter]


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "router.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def start_sqlite_router(sqlite_url: str, fake_upstream: FakeUpstream) -> Iterator[StartRouter]:
    """`start_sqlite_router(**settings)`: a running service on this test's SQLite file (call again for a
    second replica on the same file); stopped at the end of the test."""
    servers: list[ServerThread] = []

    def start(**overrides: Any) -> LiveRouter:
        app = create_app(router_settings(sqlite_url, **overrides), configure_logs=False)
        server = ServerThread(app)
        server.start()
        servers.append(server)
        return LiveRouter(settings=app.state.settings, upstream=fake_upstream, server=server)

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def live(start_sqlite_router: StartRouter) -> LiveRouter:
    """The service on SQLite with the default test settings (2 s first-byte timeout, 20 s whole call)."""
    return start_sqlite_router()


@pytest.fixture(scope="module")
def module_router(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream_server: FakeUpstream,
) -> Iterator[LiveRouter]:
    """One service for a whole module (saves a start per test); its upstream is the session's fake, so a
    test that scripts it must also take `fake_upstream` (which resets it). Cool-downs are off: they are
    the one piece of state by which one test's failures would change the next test's route. A module may
    set `ROUTER_OVERRIDES` (settings by name) for its own service."""
    path = tmp_path_factory.mktemp("module-router") / "router.db"
    shutil.copyfile(sqlite_template, path)
    overrides = getattr(request.module, "ROUTER_OVERRIDES", {})
    settings = router_settings(f"sqlite+aiosqlite:///{path}", cooldown_after_failures=1_000_000, **overrides)
    app = create_app(settings, configure_logs=False)
    server = ServerThread(app)
    server.start()
    yield LiveRouter(settings=app.state.settings, upstream=fake_upstream_server, server=server)
    server.stop()
