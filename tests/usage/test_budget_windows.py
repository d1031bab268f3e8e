"""Budget windows: a day, an ISO week (from Monday) or a month, in UTC; several budgets on one subject (the
tightest refuses); member budgets across a member's keys; exact resets at each boundary, on the in-process
and the Redis backends, with an injected clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from router.routing.model import BudgetSpec, KeySpec, Limits, TenantSpec
from router.routing.windows import same_window, window_end, window_label, window_start
from router.store.db import Database
from router.store.usage_reports import spend_since
from router.store.usage_writes import insert_usage_batch
from router.usage.limit_rules import LimitExceeded
from router.usage.limits import Limiter
from tests.usage.helpers import event
from tests.usage.test_limits import Clock, LimiterFactory, key, make_limiter, spend_source, tenant

__all__ = ["make_limiter"]


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def budgets(**amounts: float) -> Limits:
    return Limits(budgets=tuple(BudgetSpec(w, a) for w, a in amounts.items()))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("moment", "window", "start", "end", "label"),
    [
        # Sunday 2026-12-06 23:59:59: its ISO week began Monday 11-30 and ends Monday 12-07 00:00.
        ((2026, 12, 6, 23, 59, 59), "week", (2026, 11, 30), (2026, 12, 7), "2026-W49"),
        ((2026, 12, 7, 0, 0, 0), "week", (2026, 12, 7), (2026, 12, 14), "2026-W50"),
        # The ISO week that spans a new year is named by its ISO year.
        ((2027, 1, 1, 12, 0, 0), "week", (2026, 12, 28), (2027, 1, 4), "2026-W53"),
        ((2026, 12, 31, 23, 59, 59), "day", (2026, 12, 31), (2027, 1, 1), "2026-12-31"),
        ((2026, 12, 31, 23, 59, 59), "month", (2026, 12, 1), (2027, 1, 1), "2026-12"),
        ((2024, 2, 29, 0, 0, 0), "month", (2024, 2, 1), (2024, 3, 1), "2024-02"),
    ],
)
def test_windows_are_utc_days_iso_weeks_from_monday_and_calendar_months(
    moment: tuple[int, ...], window: str, start: tuple[int, ...], end: tuple[int, ...], label: str
) -> None:
    now = at(*moment)
    assert window_start(window, now).timestamp() == at(*start)  # type: ignore[arg-type]
    assert window_end(window, now).timestamp() == at(*end)  # type: ignore[arg-type]
    assert window_label(window, now) == label  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("window", "last_instant", "next_start"),
    [
        ("day", (2026, 12, 9, 23, 59, 59), (2026, 12, 10)),
        ("week", (2026, 12, 13, 23, 59, 59), (2026, 12, 14)),  # Sunday night, then Monday 00:00
        ("month", (2026, 11, 30, 23, 59, 59), (2026, 12, 1)),
    ],
)
async def test_a_spent_budget_refuses_until_the_boundary_and_resets_exactly_there(
    make_limiter: LimiterFactory, window: str, last_instant: tuple[int, ...], next_start: tuple[int, ...]
) -> None:
    clock = Clock(at(*last_instant))
    limiter = make_limiter(clock)
    k, t = key(budgets(**{window: 1.0}), key_id=41), tenant()
    reservation = await limiter.reserve(k, t, cost_usd=0.4)
    assert reservation is not None
    await limiter.settle(reservation, 10, 1.0)  # the whole budget, spent in its last second
    clock.now += 0.999  # 23:59:59.999: still the old window
    with pytest.raises(LimitExceeded) as refused:
        await limiter.reserve(k, t, cost_usd=0.4)
    assert (refused.value.kind, refused.value.window, refused.value.retry_after) == ("budget", window, 1)
    clock.now = at(*next_start)  # 00:00:00.000 of the new window: a fresh budget
    assert await limiter.reserve(k, t, cost_usd=0.4) is not None
    assert [(s.window, round(s.spent_usd, 9)) for s in await limiter.budgets(k, t)] == [(window, 0.4)]


async def test_a_request_admitted_before_midnight_and_settled_after_counts_in_the_new_day(
    make_limiter: LimiterFactory,
) -> None:
    """Its reservation leaves the old day's counter; its real cost lands in the day it finished in."""
    clock = Clock(at(2026, 12, 9, 23, 59, 59))
    limiter = make_limiter(clock)
    k, t = key(budgets(day=1.0, month=10.0), key_id=42), tenant()
    reservation = await limiter.reserve(k, t, cost_usd=0.9)
    assert reservation is not None
    clock.now = at(2026, 12, 10, 0, 0, 1)
    await limiter.admit(k, t)  # traffic goes on after midnight (on Redis this starts the new day's counter)
    await limiter.settle(reservation, 10, 0.3)
    spent = {s.window: s.spent_usd for s in await limiter.budgets(k, t)}
    assert spent == {"day": pytest.approx(0.3), "month": pytest.approx(0.3)}


async def test_with_a_day_and_a_month_budget_the_tighter_refuses(make_limiter: LimiterFactory) -> None:
    """$1 a day and $2.5 a month: the day budget refuses first (until midnight); two days later the month's
    is spent though the day's is not, and refuses until the month's end."""
    clock = Clock(at(2026, 12, 9, 10, 0, 0))
    limiter = make_limiter(clock)
    k, t = key(budgets(day=1.0, month=2.5), key_id=43), tenant()
    await limiter.admit(k, t)
    await limiter.consume(k, t, 10, 1.0)
    with pytest.raises(LimitExceeded) as refused:
        await limiter.admit(k, t)
    assert refused.value.window == "day" and refused.value.retry_after == 14 * 3600
    assert "daily budget of $1.00 for this API key" in str(refused.value)
    clock.now = at(2026, 12, 10, 10, 0, 0)
    await limiter.admit(k, t)
    await limiter.consume(k, t, 10, 1.0)
    clock.now = at(2026, 12, 11, 10, 0, 0)
    await limiter.admit(k, t)
    await limiter.consume(k, t, 10, 0.5)  # 2.5 this month, 0.5 today
    with pytest.raises(LimitExceeded) as refused:
        await limiter.admit(k, t)
    assert refused.value.window == "month"
    assert refused.value.retry_after == int(at(2027, 1, 1) - clock.now)


async def test_when_several_budgets_are_spent_the_refusal_names_the_one_that_frees_up_last(
    make_limiter: LimiterFactory,
) -> None:
    clock = Clock(at(2026, 12, 9, 10, 0, 0))
    # The database already holds $5 this day, week and month for tenant 3.
    limiter = make_limiter(clock, spend_source({}, {3: 5.0}))
    k, t = key(budgets(day=4.0), key_id=44, tenant_id=3), tenant(budgets(week=6.0), tenant_id=3)
    await limiter.admit(k, t)
    await limiter.consume(k, t, 10, 4.0)
    with pytest.raises(LimitExceeded) as refused:
        await limiter.admit(k, t)
    # The key's day ends tonight; the tenant's week only on Monday: a retry before then is refused again.
    assert (refused.value.scope, refused.value.window) == ("tenant", "week")
    assert refused.value.retry_after == int(at(2026, 12, 14) - clock.now)


async def test_a_member_budget_counts_every_key_of_that_member_in_the_tenant(
    make_limiter: LimiterFactory,
) -> None:
    clock = Clock(at(2026, 12, 9, 10, 0, 0))
    # 0.5 already recorded today for ann in tenant 3 (any of her keys).
    limiter = make_limiter(clock, spend_source({}, {}, by_member={(3, "ann"): 0.5}))
    t = TenantSpec(id=3, name="acme", member_budgets={"ann": (BudgetSpec("day", 1.0),)})
    laptop = KeySpec(id=51, tenant_id=3, member="ann", prefix="rk-51")
    ci = KeySpec(id=52, tenant_id=3, member="ann", prefix="rk-52")
    bob = KeySpec(id=53, tenant_id=3, member="bob", prefix="rk-53")
    await limiter.admit(laptop, t)  # seeds ann's day from the database: 0.5
    await limiter.consume(laptop, t, 10, 0.3)
    await limiter.admit(ci, t)  # 0.8 of 1.0
    await limiter.consume(ci, t, 10, 0.2)
    for ann_key in (laptop, ci):
        with pytest.raises(LimitExceeded) as refused:
            await limiter.admit(ann_key, t)
        assert (refused.value.scope, refused.value.window) == ("member", "day")
        assert "this member's keys" in str(refused.value)
    await limiter.admit(bob, t)  # another member of the same tenant is not held by ann's budget
    standings = await limiter.budgets(ci, t)
    assert [(s.scope, s.window, round(s.spent_usd, 9), round(s.remaining_usd, 9)) for s in standings] == [
        ("member", "day", 1.0, 0.0)
    ]


async def test_a_burst_on_a_daily_budget_admits_only_what_the_budget_covers(
    make_limiter: LimiterFactory,
) -> None:
    """200 concurrent admissions reserving $0.125 each against $1 a day (and a roomy month): exactly eight."""
    clock = Clock(at(2026, 12, 9, 10, 0, 0))
    limiter = make_limiter(clock)
    k, t = key(budgets(day=1.0, month=100.0), key_id=45), tenant()

    async def one() -> bool:
        try:
            await limiter.reserve(k, t, tokens=10, cost_usd=0.125)
        except LimitExceeded:
            return False
        return True

    admitted = await asyncio.gather(*(one() for _ in range(200)))
    assert sum(admitted) == 8


async def test_spend_since_a_window_start_reads_keys_members_and_tenants_from_the_rollups(
    usage_db: Database,
) -> None:
    monday = datetime(2026, 12, 7, tzinfo=UTC)
    rows = [
        event(created_at=monday - timedelta(seconds=1), tenant_id=3, key_id=51, member="ann", cost_usd=9.0),
        event(created_at=monday, tenant_id=3, key_id=51, member="ann", cost_usd=0.25),
        event(created_at=monday + timedelta(hours=30), tenant_id=3, key_id=52, member="ann", cost_usd=0.5),
        event(created_at=monday + timedelta(minutes=5), tenant_id=3, key_id=53, member="bob", cost_usd=2.0),
        event(created_at=monday + timedelta(minutes=5), tenant_id=4, key_id=54, member="ann", cost_usd=7.0),
    ]
    async with usage_db.transaction() as session:
        await insert_usage_batch(session, rows)
    async with usage_db.session() as session:
        spent = await spend_since(
            session,
            monday,
            [("member", 3, "ann"), ("key", 51, ""), ("tenant", 3, ""), ("member", 3, "carol")],
        )
    # Not the $9 of Sunday night, not ann's spend in tenant 4, nothing for carol.
    assert spent == {
        ("member", 3, "ann"): pytest.approx(0.75),
        ("key", 51, ""): pytest.approx(0.25),
        ("tenant", 3, ""): pytest.approx(2.75),
    }


async def test_the_limiter_seeds_each_window_from_the_database_since_that_windows_start(
    usage_db: Database,
) -> None:
    now = at(2026, 12, 9, 10, 0, 0)  # a Wednesday
    rows = [
        event(created_at=datetime(2026, 12, 2, tzinfo=UTC), tenant_id=3, key_id=61, cost_usd=3.0),
        event(created_at=datetime(2026, 12, 8, tzinfo=UTC), tenant_id=3, key_id=61, cost_usd=2.0),
        event(created_at=datetime(2026, 12, 9, 9, tzinfo=UTC), tenant_id=3, key_id=61, cost_usd=1.0),
    ]
    async with usage_db.transaction() as session:
        await insert_usage_batch(session, rows)
    limiter = Limiter(None, usage_db, clock=Clock(now))
    k = key(budgets(day=5.0, week=5.0, month=50.0), key_id=61, tenant_id=3)
    spent = {s.window: s.spent_usd for s in await limiter.budgets(k, tenant(tenant_id=3))}
    assert spent == {"day": pytest.approx(1.0), "week": pytest.approx(3.0), "month": pytest.approx(6.0)}
    await limiter.stop()


@pytest.mark.parametrize(
    ("window", "a", "b", "same"),
    [
        ("day", (2026, 12, 9, 0, 0, 0), (2026, 12, 9, 23, 59, 59), True),
        ("day", (2026, 12, 9, 23, 59, 59), (2026, 12, 10, 0, 0, 0), False),
        ("week", (2026, 12, 7, 0, 0, 0), (2026, 12, 13, 23, 59, 59), True),  # Monday .. Sunday
        ("week", (2026, 12, 13, 23, 59, 59), (2026, 12, 14, 0, 0, 0), False),  # Sunday night, Monday
        ("month", (2026, 12, 1, 0, 0, 0), (2026, 12, 31, 23, 59, 59), True),
        ("month", (2026, 12, 31, 23, 59, 59), (2027, 1, 1, 0, 0, 0), False),
    ],
)
def test_same_window_is_exact_at_each_boundary(
    window: str, a: tuple[int, ...], b: tuple[int, ...], same: bool
) -> None:
    assert same_window(window, at(*a), at(*b)) is same  # type: ignore[arg-type]
    assert same_window(window, at(*a) + 0.999 if not same else at(*a), at(*b)) is same  # type: ignore[arg-type]
