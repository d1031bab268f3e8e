"""Plain pytest fixtures for the fake upstream; import them into a conftest.py to offer them.

``fake_upstream_server`` starts one server for the whole session (starting is cheap, but one port keeps
logs readable); ``fake_upstream`` hands it to a test freshly reset, so scripts and recordings never leak.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.upstream import FakeUpstream


@pytest.fixture(scope="session")
def fake_upstream_server() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        yield server


@pytest.fixture
def fake_upstream(fake_upstream_server: FakeUpstream) -> Iterator[FakeUpstream]:
    fake_upstream_server.reset()
    yield fake_upstream_server
    fake_upstream_server.reset()
