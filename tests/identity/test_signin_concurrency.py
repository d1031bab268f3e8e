"""Sign-in tokens hold under concurrency on both backends: a refresh token is good for exactly one refresh,
and an approved device code hands out tokens exactly once, however many requests race for them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from router.identity.device import DeviceSignIn
from router.identity.grants import OAuthFailure
from router.identity.login import OidcLogins
from router.identity.members import MemberTokens
from router.identity.oidc import OidcClient
from router.identity.tokens import TokenSigner
from router.settings import Settings
from router.store.crypto import CredentialCipher
from router.store.db import Database
from router.store.member_signin import (
    create_device_authorization,
    create_signin_session,
    get_signin_session,
    member_key,
    rotate_refresh_token,
    settle_device,
)
from router.store.signin import MemberMapping, replace_sso_mappings
from router.store.tenants import create_tenant

pytestmark = pytest.mark.postgres
RACERS = 25


def _service(database: Database) -> DeviceSignIn:
    settings = Settings(_env_file=None, database_url=database.url, secret_key="s", public_url="http://r.test")
    tokens = MemberTokens(database, TokenSigner("s", "http://r.test"), 3600)
    logins = OidcLogins(settings, database, OidcClient(settings))
    return DeviceSignIn(settings, database, CredentialCipher("s"), logins, tokens)


async def _signed_in(database: Database) -> tuple[str, str]:
    """A member's session (no IdP refresh token: nothing to ask the IdP); its id and a refresh token."""
    async with database.transaction() as session:
        tenant = await create_tenant(session, "eng", actor="test")
        await replace_sso_mappings(session, [MemberMapping("engineering", "eng")], [], actor="test")
        key = await member_key(session, tenant.id, "alice@example.com", actor="test")
        signin = await create_signin_session(
            session,
            tenant_id=tenant.id,
            key_id=key.id,
            member="alice@example.com",
            subject="alice",
            groups=["engineering"],
            surface=None,
            idp_refresh_token_encrypted=None,
            refresh_ttl=timedelta(days=1),
        )
        refresh = await rotate_refresh_token(session, signin, old_hash=None, refresh_ttl=timedelta(days=1))
    assert refresh is not None
    return signin.id, refresh


async def _race(calls: list[Any]) -> tuple[list[dict[str, Any]], list[BaseException]]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    wins = [r for r in results if isinstance(r, dict)]
    losses = [r for r in results if isinstance(r, BaseException)]
    return wins, losses


async def test_a_refresh_token_is_good_for_exactly_one_refresh_under_concurrency(database: Database) -> None:
    device = _service(database)
    _, refresh = await _signed_in(database)
    wins, losses = await _race(
        [
            device.grants.token({"grant_type": "refresh_token", "refresh_token": refresh})
            for _ in range(RACERS)
        ]
    )
    assert len(wins) == 1, losses[:3]
    assert all(isinstance(e, OAuthFailure) and e.error == "invalid_grant" for e in losses), losses[:3]
    # The new refresh token works once more; the old one never again.
    again = await device.grants.token(
        {"grant_type": "refresh_token", "refresh_token": wins[0]["refresh_token"]}
    )
    assert again["access_token"]


async def test_an_approved_device_code_hands_out_tokens_once_under_concurrent_polls(
    database: Database,
) -> None:
    device = _service(database)
    session_id, _ = await _signed_in(database)
    async with database.transaction() as session:
        # A fresh session for the device (the helper's already has a refresh token).
        code, row = await create_device_authorization(
            session, surface="claude_code", ttl=timedelta(minutes=10), interval=0
        )
    async with database.transaction() as session:
        signin = await get_signin_session(session, session_id)
        assert signin is not None
        fresh = await create_signin_session(
            session,
            tenant_id=signin.tenant_id,
            key_id=signin.key_id,
            member=signin.member,
            subject="alice",
            groups=["engineering"],
            surface="claude_code",
            idp_refresh_token_encrypted=None,
            refresh_ttl=timedelta(days=1),
        )
        assert await settle_device(session, row.id, status="approved", session_id=fresh.id, reason=None)
    wins, losses = await _race(
        [
            device.grants.token(
                {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": code}
            )
            for _ in range(RACERS)
        ]
    )
    assert len(wins) == 1, losses[:3]
    assert all(isinstance(e, OAuthFailure) and e.error == "invalid_grant" for e in losses), losses[:3]


async def test_an_expired_device_code_answers_expired_token(database: Database) -> None:
    device = _service(database)
    async with database.transaction() as session:
        code, _ = await create_device_authorization(
            session, surface="claude_code", ttl=timedelta(seconds=-1), interval=5
        )
    with pytest.raises(OAuthFailure) as caught:
        await device.grants.token(
            {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": code}
        )
    assert caught.value.error == "expired_token"
