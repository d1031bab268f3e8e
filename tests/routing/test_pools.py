"""order_members(): the order a pool's members are tried in, by strategy, stickiness and health."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

from router.routing.explain import explain
from router.routing.facts import session_of
from router.routing.model import Pool, PoolMember, RequestFacts
from router.routing.pools import MemberState, order_members, shares
from tests.routing.builders import config, rule, target

EU, US = target("deployment/gpt4o-eu"), target("deployment/gpt4o-us")


def pool(strategy: str = "weighted", *, sticky: bool = False) -> Pool:
    return Pool("gpt4o", strategy, (PoolMember(EU, weight=3), PoolMember(US, weight=1)), sticky=sticky)  # type: ignore[arg-type]


def test_weights_3_to_1_give_a_3_to_1_split_of_first_choices() -> None:
    rng = random.Random(7)
    firsts = Counter(order_members(pool(), rng=rng)[0].ref for _ in range(1000))
    assert abs(firsts["deployment/gpt4o-eu"] / 1000 - 0.75) <= 0.05
    assert shares(pool()) == {"deployment/gpt4o-eu": 0.75, "deployment/gpt4o-us": 0.25}


def test_every_member_is_in_the_order_so_a_failing_one_can_be_skipped() -> None:
    order = order_members(pool(), rng=random.Random(1))
    assert sorted(c.ref for c in order) == ["deployment/gpt4o-eu", "deployment/gpt4o-us"]


def test_least_busy_takes_the_member_with_fewest_in_flight() -> None:
    busy = {EU.ref: MemberState(in_flight=5), US.ref: MemberState(in_flight=1)}
    order = order_members(pool("least-busy"), state=lambda m: busy[m.target.ref])
    assert [c.ref for c in order] == [US.ref, EU.ref]
    assert order[0].reason == "least busy: 1 in flight"


def test_lowest_latency_takes_the_fastest_and_tries_unmeasured_members_first() -> None:
    measured = {EU.ref: MemberState(latency_ms=900.0), US.ref: MemberState(latency_ms=120.0)}
    assert order_members(pool("lowest-latency"), state=lambda m: measured[m.target.ref])[0].ref == US.ref
    fresh = {EU.ref: MemberState(latency_ms=None), US.ref: MemberState(latency_ms=120.0)}
    assert order_members(pool("lowest-latency"), state=lambda m: fresh[m.target.ref])[0].ref == EU.ref


def test_a_cooling_member_goes_last_whatever_the_strategy() -> None:
    cooling = {EU.ref: MemberState(cooling=True), US.ref: MemberState()}
    for strategy in ("weighted", "least-busy", "lowest-latency"):
        order = order_members(pool(strategy), state=lambda m: cooling[m.target.ref], session="s")
        assert [c.ref for c in order] == [US.ref, EU.ref]


def test_a_session_always_gets_the_same_member_and_sessions_follow_the_weights() -> None:
    sticky = pool(sticky=True)
    for n in range(50):
        firsts = {order_members(sticky, session=f"s{n}", rng=random.Random(i))[0].ref for i in range(5)}
        assert len(firsts) == 1
    spread = Counter(order_members(sticky, session=f"session-{n}")[0].ref for n in range(2000))
    assert abs(spread[EU.ref] / 2000 - 0.75) <= 0.05


def test_sessions_come_from_claude_codes_user_id_in_either_form() -> None:
    legacy = "user_" + "ab" * 32 + "_account_1234_session_5b0f3c1e-1111-4222-8333-444455556666"
    assert session_of(legacy) == "5b0f3c1e-1111-4222-8333-444455556666"
    assert session_of('{"device_id": "d", "session_id": "abc"}') == "abc"
    assert session_of("plain-user") == "plain-user"
    assert session_of(None) is None


def test_explain_names_the_member_a_session_would_get() -> None:
    cfg = config([rule("*", "pool/gpt4o")])
    cfg = dataclasses.replace(cfg, pools={"gpt4o": pool(sticky=True)})
    ex = explain(cfg, 1, RequestFacts("claude-sonnet-4", session="abc"))
    expected = order_members(pool(sticky=True), session="abc")[0].ref
    assert ex.targets == ("pool/gpt4o",)
    assert ex.to_dict()["pools"]["pool/gpt4o"][0]["target"] == expected
    assert f"-> {expected} (sticky: this session's member)" in ex.to_text()
