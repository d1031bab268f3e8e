"""Minted access tokens, checked in memory: signature, issuer, expiry and revocation, cached or not."""

from __future__ import annotations

import time

import pytest

from router.identity.members import IdentitySnapshot, MemberTokens
from router.identity.tokens import InvalidToken, TokenSigner, looks_like_token


def _tokens() -> tuple[MemberTokens, TokenSigner]:
    signer = TokenSigner("secret", "https://router.test")
    return MemberTokens(None, signer, 3600), signer  # type: ignore[arg-type]


def _mint(signer: TokenSigner, ttl: int = 3600, session_id: str = "s1", now: float | None = None) -> str:
    token, _ = signer.mint(
        session_id=session_id,
        key_hash="sso:abc",
        tenant_id=7,
        member="a@example.com",
        subject="a",
        groups=["g"],
        ttl=ttl,
        now=now,
    )
    return token


def test_a_token_names_its_member_key_and_tenant() -> None:
    members, signer = _tokens()
    token = _mint(signer)
    assert looks_like_token(token) and not looks_like_token("sk-rt-abc")
    claims = members.verify(token)
    assert (claims.key_hash, claims.tenant_id, claims.member, claims.groups) == (
        "sso:abc",
        7,
        "a@example.com",
        ("g",),
    )


def test_a_cached_token_is_still_refused_once_expired_or_revoked() -> None:
    members, signer = _tokens()
    short = _mint(signer, ttl=1)
    members.verify(short)  # now remembered
    time.sleep(1.1)
    with pytest.raises(InvalidToken, match="expired"):
        members.verify(short)
    token = _mint(signer, session_id="s2")
    members.verify(token)
    members.snapshot = IdentitySnapshot(version=2, revoked_sessions=frozenset({"s2"}))
    with pytest.raises(InvalidToken, match="ended by an administrator"):
        members.verify(token)


@pytest.mark.parametrize(
    "forge",
    [
        lambda s: _mint(TokenSigner("another secret", "https://router.test")),
        lambda s: _mint(TokenSigner("secret", "https://another.test")),
        lambda s: _mint(s)[:-2] + "xx",
        lambda s: _mint(s, now=time.time() - 7200),
        lambda s: "eyJ" + "a" * 5000 + ".b.c",
    ],
    ids=["other-key", "other-issuer", "tampered", "expired", "oversized"],
)
def test_forged_expired_or_oversized_tokens_are_refused(forge: object) -> None:
    members, signer = _tokens()
    with pytest.raises(InvalidToken):
        members.verify(forge(signer))  # type: ignore[operator]
