"""The key guard as a unit: where the key is read from, refusals, and the cache for keys the snapshot lacks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from router.gateway.auth import KeyGuard, key_from_headers
from router.routing.model import KeySpec, RoutingConfig
from router.store.keys import hash_key
from router.wire.errors import AuthenticationError
from tests.routing.builders import config

KEY = "sk-rt-" + "k" * 40
UNKNOWN = "sk-rt-" + "u" * 40


def spec(**changes: Any) -> KeySpec:
    return replace(KeySpec(id=1, tenant_id=1, member="ana", prefix="sk-rt-kno"), **changes)


def snapshot(*keys: tuple[str, KeySpec], version: int = 1) -> RoutingConfig:
    made = config()
    return RoutingConfig(
        version=version,
        tenants=made.tenants,
        targets=made.targets,
        chains=made.chains,
        global_rules=made.global_rules,
        tenant_rules=made.tenant_rules,
        keys={hash_key(k): s for k, s in keys},
    )


class Lookup:
    """The database's answer for a batch of hashes: `found` for every hash asked (or none)."""

    def __init__(self, found: KeySpec | None = None, fail: bool = False) -> None:
        self.found, self.fail, self.calls = found, fail, 0

    async def __call__(self, digests: Sequence[str]) -> Mapping[str, KeySpec]:
        self.calls += 1
        if self.fail:
            raise ConnectionError("database away")
        return {d: self.found for d in digests} if self.found is not None else {}


def test_the_key_comes_from_x_api_key_or_a_bearer_token() -> None:
    assert key_from_headers({"x-api-key": f" {KEY} "}) == KEY
    assert key_from_headers({"authorization": f"Bearer {KEY}"}) == KEY
    assert key_from_headers({"authorization": f"bearer {KEY}"}) == KEY
    assert key_from_headers({"authorization": "Basic abc"}) is None
    assert key_from_headers({}) is None


async def test_a_key_in_the_snapshot_is_answered_from_memory() -> None:
    lookup = Lookup()
    found = await KeyGuard(lookup, min_interval=0).authenticate({"x-api-key": KEY}, snapshot((KEY, spec())))
    assert found.member == "ana" and lookup.calls == 0


@pytest.mark.parametrize(
    ("headers", "changes", "message", "retry"),
    [
        ({}, {}, "missing API key", False),
        ({"x-api-key": KEY}, {"revoked": True}, "revoked", False),
        ({"x-api-key": KEY}, {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}, "expired", False),
    ],
)
async def test_missing_revoked_and_expired_keys_are_refused_without_retry(
    headers: dict[str, str], changes: dict[str, Any], message: str, retry: bool
) -> None:
    with pytest.raises(AuthenticationError) as refused:
        await KeyGuard(Lookup(), min_interval=0).authenticate(headers, snapshot((KEY, spec(**changes))))
    assert message in refused.value.message
    assert refused.value.status == 401 and refused.value.should_retry is retry


async def test_an_unknown_key_is_looked_up_once_and_the_miss_is_cached() -> None:
    lookup = Lookup(found=None)
    guard = KeyGuard(lookup, min_interval=0, refusal_delay=0)  # the cache alone, no flood slow-down
    for _ in range(50):
        with pytest.raises(AuthenticationError, match="invalid API key") as refused:
            await guard.authenticate({"x-api-key": UNKNOWN}, snapshot())
        # It may exist in a database this replica could not reach: the client keeps its retries.
        assert refused.value.should_retry is not False
    assert lookup.calls == 1


async def test_a_key_created_in_another_process_is_found_in_the_database() -> None:
    lookup = Lookup(found=spec(member="bo"))
    found = await KeyGuard(lookup, min_interval=0).authenticate({"x-api-key": KEY}, snapshot())
    assert found.member == "bo" and lookup.calls == 1


async def test_a_new_snapshot_forgets_cached_misses() -> None:
    lookup = Lookup(found=None)
    guard = KeyGuard(lookup, min_interval=0)
    with pytest.raises(AuthenticationError):
        await guard.authenticate({"x-api-key": KEY}, snapshot(version=1))
    lookup.found = spec()
    found = await guard.authenticate({"x-api-key": KEY}, snapshot(version=2))
    assert found.member == "ana" and lookup.calls == 2


async def test_a_database_that_is_away_makes_the_key_unknown_not_an_error_500() -> None:
    with pytest.raises(AuthenticationError, match="invalid API key"):
        await KeyGuard(Lookup(fail=True), min_interval=0).authenticate({"x-api-key": KEY}, snapshot())
