"""Members' own page (/me): their sessions (token hash only), their usage this month, self-service flags."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.audit import changed
from router.store.db import as_utc
from router.store.identity_models import MemberPageSession
from router.store.models import Tenant, utcnow
from router.store.tenants import get_tenant
from router.store.usage_reports import time_parts
from router.store.usage_rollups import NANOS_PER_USD

MAX_TOKEN_LENGTH = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Member:
    email: str
    tenant_ids: tuple[int, ...]
    token_hash: str


@dataclass(frozen=True, slots=True)
class MemberTotals:
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


async def create_member_session(
    session: AsyncSession, email: str, tenant_ids: Sequence[int], *, seconds: float
) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        MemberPageSession(
            token_hash=token_hash(token),
            email=email[:200],
            tenant_ids=sorted(set(tenant_ids)),
            created_at=now,
            expires_at=now + timedelta(seconds=seconds),
        )
    )
    await session.flush()
    return token


async def load_member(session: AsyncSession, token: str | None) -> Member | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = token_hash(token)
    row = await session.scalar(select(MemberPageSession).where(MemberPageSession.token_hash == digest))
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    return Member(email=row.email, tenant_ids=tuple(row.tenant_ids or ()), token_hash=digest)


async def end_member_session(session: AsyncSession, digest: str) -> None:
    await session.execute(delete(MemberPageSession).where(MemberPageSession.token_hash == digest))


async def member_totals(session: AsyncSession, tenant_id: int, member: str, since: datetime) -> MemberTotals:
    """A member's usage in one tenant since `since`, by the member name usage records carry (the e-mail);
    from the hourly rollups (raw rows only for a start inside an hour)."""
    totals = [0, 0, 0, 0]
    for part in time_parts(since, None):
        table = part.table
        requests, _, inp, out, _, _, nanos = part.measures(session)
        row = (
            await session.execute(
                select(requests, inp, out, nanos).where(
                    *part.window, table.tenant_id == tenant_id, func.lower(table.member) == member.lower()
                )
            )
        ).one()
        totals = [a + int(b or 0) for a, b in zip(totals, row, strict=True)]
    return MemberTotals(totals[0], totals[1], totals[2], totals[3] / NANOS_PER_USD)


async def set_member_self_service(
    session: AsyncSession, tenant_name: str, allowed: bool, *, actor: str
) -> Tenant:
    tenant = await get_tenant(session, tenant_name)
    if tenant.member_self_service == allowed:
        return tenant
    tenant.member_self_service = allowed
    await session.flush()
    await changed(
        session,
        actor,
        "update",
        "tenant",
        tenant.id,
        tenant.name,
        {"member_self_service": not allowed},
        {"member_self_service": allowed},
        tenant.id,
    )
    return tenant
