"""OIDC login states: what a browser's trip to the identity provider must find again at /oidc/callback.

A state is written when the trip starts and taken (read and deleted) when it comes back: each finishes at most
one sign-in, on whichever replica gets the callback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.db import as_utc
from router.store.identity_models import OidcLogin
from router.store.models import utcnow


async def save_login(
    session: AsyncSession,
    *,
    state: str,
    purpose: str,
    code_verifier: str,
    nonce: str,
    payload: dict[str, Any],
    browser_hash: str | None,
    ttl: timedelta,
) -> None:
    now = utcnow()
    # Trips never finished leave rows behind: sweep the expired ones while we are here.
    await session.execute(delete(OidcLogin).where(OidcLogin.expires_at < now))
    session.add(
        OidcLogin(
            state=state,
            purpose=purpose,
            code_verifier=code_verifier,
            nonce=nonce,
            payload=payload,
            browser_hash=browser_hash,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()


@dataclass(frozen=True, slots=True)
class LoginState:
    state: str
    purpose: str
    code_verifier: str
    nonce: str
    payload: dict[str, Any]
    browser_hash: str | None


async def take_login(session: AsyncSession, state: str) -> LoginState | None:
    """The unexpired login with this state, deleted as it is read: a state finishes at most one sign-in,
    even when two replicas get the same callback at once."""
    row = await session.get(OidcLogin, state)
    if row is None:
        return None
    found = LoginState(
        row.state, row.purpose, row.code_verifier, row.nonce, dict(row.payload), row.browser_hash
    )
    expired = (as_utc(row.expires_at) or utcnow()) <= utcnow()
    result = await session.execute(delete(OidcLogin).where(OidcLogin.state == state))
    if getattr(result, "rowcount", 0) != 1 or expired:
        return None
    return found
