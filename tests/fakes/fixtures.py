"""Plain pytest fixtures for the fake upstream; offer them from a conftest.py with
``from tests.fakes.fixtures import *  # noqa: F403`` (or ``pytest_plugins = ["tests.fakes.fixtures"]``
in the root conftest).

``fake_upstream_server`` starts one server for the whole session (one port keeps logs readable);
``fake_upstream`` hands it to a test freshly reset, so scripts and recordings never leak between tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.upstream import FakeUpstream

__all__ = ["fake_upstream", "fake_upstream_server"]


@pytest.fixture(scope="session")
def fake_upstream_server() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        yield server


@pytest.fixture
def fake_upstream(fake_upstream_server: FakeUpstream) -> Iterator[FakeUpstream]:
    fake_upstream_server.reset()
    yield fake_upstream_server
    fake_upstream_server.reset()
