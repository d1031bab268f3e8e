"""Fixtures: a started ProviderHub for the session, and the fake upstream reset per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from router.providers import ProviderHub
from router.settings import Settings
from tests.fakes.upstream import FakeUpstream


@pytest.fixture(scope="session")
async def hub() -> AsyncIterator[ProviderHub]:
    h = ProviderHub(Settings(upstream_connect_timeout=2.0))
    await h.start()
    yield h
    await h.close()


@pytest.fixture
def fake(fake_upstream: FakeUpstream) -> FakeUpstream:
    return fake_upstream
