"""Three `router serve` replicas behind HAProxy (Debian's package), sharing a private PostgreSQL cluster and
a private Redis, driven at c=64 for at least a minute while each replica is restarted in turn (SIGTERM,
exit, start), one is killed with `kill -9` and started again, and PostgreSQL restarts (bench/lb_soak.py,
also `make soak-lb`). Three to four minutes; one test, so it runs once.

`make test` installs HAProxy (make lb-tools); CI sets ROUTER_REQUIRE_DEPLOY_TOOLS=1 so that a missing
HAProxy, PostgreSQL server binaries or redis-server fail instead of skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.lb_services import MissingTool, check_tools
from bench.lb_soak import BUDGET_REQUESTS, MIN_SECONDS, RPM, markdown, run_soak

CONCURRENCY = 64


def _require_tools() -> None:
    try:
        check_tools()
    except MissingTool as exc:
        if os.environ.get("ROUTER_REQUIRE_DEPLOY_TOOLS") == "1":
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


@pytest.mark.timeout(1200)
def test_three_replicas_behind_haproxy_lose_no_request_and_no_record_through_restarts_a_kill_and_pg(
    tmp_path: Path,
) -> None:
    _require_tools()
    report = run_soak(tmp_path, concurrency=CONCURRENCY, min_seconds=MIN_SECONDS)
    phases = report.phases
    story = "\n".join(report.events) + "\n" + markdown(report)
    assert report.seconds >= MIN_SECONDS, story
    assert all(phases[name].requests > 0 for name in phases), story

    # The rolling restart drains each replica (readiness 503 at SIGTERM, served meanwhile): nothing fails.
    # Nor while PostgreSQL restarts (requests never touch it; readiness rides the outage out), nor anywhere
    # outside the kill.
    for name in ("steady", "limits", "rolling", "postgres", "tail"):
        assert phases[name].failed == 0, f"{name}: {phases[name].failures}\n{story}"
    # kill -9 can only cut the requests in flight on the killed replica: no more than the client has open.
    assert phases["kill"].failed <= report.concurrency, story

    # Every answered request, whichever replica and phase, has exactly one usage record (the killed
    # replica's are replayed from its spool when it starts again).
    assert report.missing == [] and report.duplicated == [], story
    # Records no client saw answered can only belong to requests the kill cut after their record was durable.
    assert report.unanswered_records <= phases["kill"].failed, story

    # Limits hold across the three replicas (shared through Redis).
    assert set(report.rpm_statuses) <= {200, 429} and 1 <= report.rpm_served <= RPM, story
    assert set(report.budget_statuses) <= {200, 429}, story
    assert 1 <= report.budget_served <= BUDGET_REQUESTS + report.replicas, story
