"""Budget windows: UTC calendar days, ISO weeks (from Monday 00:00 UTC) and months, as plain functions of
a Unix time. The limiter counts budgets in them (usage/), and the store and the pages report spend by them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from router.routing.model import BudgetWindow

__all__ = [
    "month_start",
    "next_month_start",
    "same_window",
    "window_end",
    "window_label",
    "window_start",
]

DAY = 86400


def month_start(now: float) -> datetime:
    moment = datetime.fromtimestamp(now, UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month_start(now: float) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def window_start(window: BudgetWindow, now: float) -> datetime:
    """Where the budget window holding `now` began: 00:00 UTC of the day, of the week's Monday (ISO), or
    of the month's first day."""
    if window == "month":
        return month_start(now)
    moment = datetime.fromtimestamp(now, UTC)
    day = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return day if window == "day" else day - timedelta(days=day.weekday())


def window_end(window: BudgetWindow, now: float) -> datetime:
    """Where the budget window holding `now` ends (the next one's start): the budget resets then."""
    if window == "month":
        return next_month_start(now)
    return window_start(window, now) + timedelta(days=1 if window == "day" else 7)


def window_label(window: BudgetWindow, now: float) -> str:
    """The window's name in counter keys: 2026-12-07 (day), 2026-W50 (ISO week), 2026-12 (month)."""
    start = window_start(window, now)
    if window == "month":
        return start.strftime("%Y-%m")
    if window == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.strftime("%Y-%m-%d")


def same_window(window: BudgetWindow, a: float, b: float) -> bool:
    """Whether two moments fall in the same window. Unix days are UTC days (the epoch is a UTC midnight and
    Unix time has no leap seconds), and every week and month boundary is a day boundary: two moments of
    the same day share every window, without any calendar arithmetic (the common case, on the hot path)."""
    if a // DAY == b // DAY:
        return True
    return window != "day" and window_label(window, a) == window_label(window, b)
