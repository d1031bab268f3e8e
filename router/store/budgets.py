"""Budgets: USD caps per tenant, per member of a tenant (all their keys together) and per key, each for a
UTC calendar window (day; ISO week from Monday 00:00; month). A subject has at most one budget per window,
and every budget that applies to a request is enforced (usage/limits.py), so the tightest one refuses first.

Every change bumps the config version (the request path reads budgets from the routing snapshot) and is
audited, like any other limit.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.lengths import MEMBER_CHARS
from router.store.audit import changed
from router.store.db import NotFoundError
from router.store.models import ApiKey, Budget, Tenant

if TYPE_CHECKING:
    from router.routing.model import BudgetSpec, BudgetWindow

SubjectKind = Literal["tenant", "member", "key"]
Window = Literal["day", "week", "month"]
WINDOW_ORDER = {"day": 0, "week": 1, "month": 2}


@dataclass(frozen=True, slots=True)
class BudgetView:
    """One budget as pages, the CLI, the API and exports show it."""

    id: int
    subject_kind: str
    tenant_id: int
    tenant: str
    # The member's name (member budgets), the key's prefix (key budgets), "" (tenant budgets).
    subject: str
    window: str
    amount_usd: float


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """One budget with its subject's spend in the budget's current window (pages and /me)."""

    id: int
    subject_kind: str
    # The member's name (member budgets), "" otherwise.
    member: str
    key_id: int | None
    window: str
    amount_usd: float
    spent_usd: float
    resets_at: datetime

    @property
    def remaining_usd(self) -> float:
        return max(0.0, self.amount_usd - self.spent_usd)

    @property
    def used_pct(self) -> float:
        return 100.0 * self.spent_usd / self.amount_usd if self.amount_usd > 0 else 100.0


async def budget_lines(
    session: AsyncSession, rows: Sequence[Budget], now: float | None = None
) -> list[BudgetLine]:
    """These budgets, each with its subject's spend since its window's start (one rollup read per window),
    tenant budgets first, then members', then keys', each subject's by window."""
    # Imported here: the usage reports (and their rollup tables) are for budget pages, not for the CLI's
    # `tenant list`/`key list`, which read budgets only (their start-up is mostly imports).
    from router.routing.windows import window_end, window_start
    from router.store.usage_reports import spend_since

    moment = time.time() if now is None else now
    spent: dict[tuple[str, tuple[str, int, str]], float] = {}
    for window in {r.window for r in rows}:
        spenders = {_spender(r) for r in rows if r.window == window}
        found = await spend_since(session, window_start(_window(window), moment), spenders)
        spent.update({(window, spender): amount for spender, amount in found.items()})
    order = {"tenant": 0, "member": 1, "key": 2}
    lines = [
        BudgetLine(
            r.id,
            r.subject_kind,
            r.member,
            r.key_id,
            r.window,
            r.amount_usd,
            spent.get((r.window, _spender(r)), 0.0),
            window_end(_window(r.window), moment),
        )
        for r in rows
    ]
    return sorted(
        lines, key=lambda b: (order[b.subject_kind], b.key_id or 0, b.member, WINDOW_ORDER[b.window])
    )


def _spender(row: Budget) -> tuple[str, int, str]:
    """Whose spend a budget caps, as store/usage_reports.spend_since names it."""
    if row.subject_kind == "key":
        return ("key", row.key_id or 0, "")
    return (row.subject_kind, row.tenant_id, row.member)


def _window(window: str) -> BudgetWindow:
    return cast("BudgetWindow", window)


def check_budget(window: Any, amount_usd: Any) -> None:
    """ValueError with config/validate/'s reason when the window or the amount is not valid."""
    # Imported here: reading budgets (the CLI's list commands) needs no validation, and it loads routing.
    from router.config.validate import budget_issues

    issues = budget_issues(window, amount_usd)
    if issues:
        raise ValueError(f"budget {issues[0].path} {issues[0].message}")


def sort_key(row: Budget) -> tuple[str, int, str, int]:
    return (row.subject_kind, row.key_id or 0, row.member, WINDOW_ORDER.get(row.window, 9))


def own_budgets(rows: Sequence[Budget], kind: SubjectKind, member: str = "") -> dict[str, float]:
    """window -> amount of one subject's budgets among `rows` (a tenant's or a key's `.budgets`)."""
    return {
        row.window: row.amount_usd
        for row in sorted(rows, key=sort_key)
        if row.subject_kind == kind and row.member == member
    }


def budget_specs(rows: Sequence[Budget], kind: SubjectKind, member: str = "") -> tuple[BudgetSpec, ...]:
    """One subject's budgets as the request path knows them (shortest window first)."""
    # Imported here: only the routing snapshot asks for specs; the CLI's list commands read budgets only.
    from router.routing.model import BudgetSpec

    return tuple(
        BudgetSpec(cast("BudgetWindow", window), amount)
        for window, amount in own_budgets(rows, kind, member).items()
    )


def member_budget_specs(tenant: Tenant) -> dict[str, tuple[BudgetSpec, ...]]:
    """member name -> that member's budgets in the tenant, for the routing snapshot."""
    return {member: budget_specs(tenant.budgets, "member", member) for member in member_budgets(tenant)}


def member_budgets(tenant: Tenant) -> dict[str, dict[str, float]]:
    """member name -> window -> amount, for the members of `tenant` that have budgets."""
    out: dict[str, dict[str, float]] = {}
    for row in sorted(tenant.budgets, key=sort_key):
        if row.subject_kind == "member":
            out.setdefault(row.member, {})[row.window] = row.amount_usd
    return out


def budget_state(rows: Sequence[Budget]) -> dict[str, float]:
    """The audited view of one subject's budgets: {"day": 20.0, "month": 300.0}."""
    return {row.window: row.amount_usd for row in sorted(rows, key=sort_key)}


async def _tenant(session: AsyncSession, name: str) -> Tenant:
    tenant = await session.scalar(select(Tenant).where(Tenant.name == name.strip()))
    if tenant is None:
        raise NotFoundError(f"no tenant named {name.strip()!r}")
    return tenant


def check_member(member: str) -> str:
    """A trimmed member name of 1 to MEMBER_CHARS characters (keys' and budgets' alike)."""
    member = member.strip()
    if not member:
        raise ValueError("the member name must not be empty")
    if len(member) > MEMBER_CHARS:
        raise ValueError(f"the member name must be at most {MEMBER_CHARS} characters")
    return member


def check_within_tenant(tenant: Tenant, window: str, amount_usd: float | None, what: str) -> None:
    """A member's or a key's budget is never more than its tenant's budget for the same window."""
    ceiling = own_budgets(tenant.budgets, "tenant").get(window)
    if amount_usd is not None and ceiling is not None and amount_usd > ceiling:
        raise ValueError(
            f"{what} {window} budget {amount_usd:g} is more than tenant {tenant.name}'s {ceiling:g}"
        )


async def set_tenant_budget(
    session: AsyncSession, tenant_name: str, window: str, amount_usd: float | None, *, actor: str = "cli"
) -> Tenant:
    """Set the tenant's budget for `window` (None removes it)."""
    tenant = await _tenant(session, tenant_name)
    await _set(session, tenant, tenant.budgets, "tenant", "", window, amount_usd, actor)
    return tenant


async def set_member_budget(
    session: AsyncSession,
    tenant_name: str,
    member: str,
    window: str,
    amount_usd: float | None,
    *,
    actor: str = "cli",
) -> Tenant:
    """Set the budget of `member`'s keys in the tenant together, for `window` (None removes it)."""
    tenant = await _tenant(session, tenant_name)
    member = check_member(member)
    if amount_usd is not None:
        check_budget(window, amount_usd)
        check_within_tenant(tenant, window, amount_usd, f"member {member}'s")
    await _set(session, tenant, tenant.budgets, "member", member, window, amount_usd, actor)
    return tenant


async def set_key_budget(
    session: AsyncSession, key: ApiKey, window: str, amount_usd: float | None, *, actor: str = "cli"
) -> ApiKey:
    """Set the key's budget for `window` (None removes it)."""
    tenant = await session.get(Tenant, key.tenant_id)
    if tenant is not None and amount_usd is not None:
        check_budget(window, amount_usd)
        check_within_tenant(tenant, window, amount_usd, f"key {key.prefix}'s")
    await _set(session, key, key.budgets, "key", "", window, amount_usd, actor)
    return key


async def _set(
    session: AsyncSession,
    owner: Tenant | ApiKey,
    rows: list[Budget],
    kind: SubjectKind,
    member: str,
    window: str,
    amount_usd: float | None,
    actor: str,
) -> None:
    if amount_usd is not None or window not in WINDOW_ORDER:
        check_budget(window, amount_usd if amount_usd is not None else 0)
    mine = [r for r in rows if r.subject_kind == kind and r.member == member]
    before = budget_state(mine)
    current = next((r for r in mine if r.window == window), None)
    if amount_usd is None:
        if current is None:
            return
        rows.remove(current)
        await session.delete(current)
    elif current is not None:
        if current.amount_usd == float(amount_usd):
            return
        current.amount_usd = float(amount_usd)
    else:
        tenant_id = owner.id if isinstance(owner, Tenant) else owner.tenant_id
        rows.append(
            Budget(
                subject_kind=kind, tenant_id=tenant_id, member=member, window=window, amount_usd=amount_usd
            )
        )
    await session.flush()
    after = budget_state([r for r in rows if r.subject_kind == kind and r.member == member])
    if isinstance(owner, Tenant):
        name = owner.name if kind == "tenant" else f"{owner.name}/{member}"
        await changed(session, actor, "budget", "tenant", owner.id, name, {"budgets": before},
                      {"budgets": after}, owner.id)  # fmt: skip
    else:
        await changed(session, actor, "budget", "api_key", owner.id, owner.prefix, {"budgets": before},
                      {"budgets": after}, owner.tenant_id)  # fmt: skip


async def list_budgets(session: AsyncSession, tenant_name: str | None = None) -> list[BudgetView]:
    """Every budget (optionally of one tenant): tenant, members, keys; each subject's by window."""
    query = select(Budget, Tenant.name, ApiKey.prefix).join(Tenant, Budget.tenant_id == Tenant.id)
    query = query.outerjoin(ApiKey, Budget.key_id == ApiKey.id)
    if tenant_name is not None:
        tenant = await _tenant(session, tenant_name)
        query = query.where(Budget.tenant_id == tenant.id)
    rows = (await session.execute(query)).all()
    views = [
        BudgetView(
            id=row.id,
            subject_kind=row.subject_kind,
            tenant_id=row.tenant_id,
            tenant=tenant,
            subject=(prefix or "") if row.subject_kind == "key" else row.member,
            window=row.window,
            amount_usd=row.amount_usd,
        )
        for row, tenant, prefix in rows
    ]
    order = {"tenant": 0, "member": 1, "key": 2}
    return sorted(
        views, key=lambda v: (v.tenant, order[v.subject_kind], v.subject or "", WINDOW_ORDER[v.window])
    )


async def copy_key_budgets(session: AsyncSession, old: ApiKey, new: ApiKey, *, actor: str = "cli") -> None:
    """Give a rotated key's successor the old key's budgets of every window (the month one comes with its
    limits already)."""
    for window, amount in own_budgets(old.budgets, "key").items():
        if own_budgets(new.budgets, "key").get(window) != amount:
            await set_key_budget(session, new, window, amount, actor=actor)
