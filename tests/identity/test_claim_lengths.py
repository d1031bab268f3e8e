"""What an IdP says of a person is bounded where it comes in, at what compliant IdPs send: a subject up to
OpenID Connect's 255 characters and an e-mail up to 200 sign in and are kept whole (sign-in sessions, admin
user names, the audit log); longer refuses the sign-in, and so does an admin sign-in whose e-mail is longer
than an admin user name (cut, two people could become one); a group too long for any mapping to name is left
out (cut, it could equal another group); a display name is cut."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import pytest
from litestar.testing import AsyncTestClient
from markupsafe import escape
from sqlalchemy import select

from router.admin.sso import AdminSsoCompletion
from router.app import create_app
from router.config import lengths as L
from router.identity.oidc import Identity, OidcClient, OidcError
from router.store.admins import validate_username
from router.store.db import Database
from router.store.identity_models import AdminUser, SigninSession
from router.store.member_signin import audit_member_sign_in, create_signin_session, member_key
from router.store.models import AuditEntry, Tenant
from router.store.signin import AdminMapping, replace_sso_mappings
from router.store.throttle import user_key
from tests.fakes.oidc import IdpUser, TestIdp
from tests.fixtures.app import router_settings

CLAIM = "groups"
PUBLIC_URL = "http://127.0.0.1:9"


def client() -> OidcClient:
    return OidcClient(router_settings("sqlite+aiosqlite:///unused.db", oidc_groups_claim=CLAIM))


def claims(**over: Any) -> dict[str, Any]:
    return {"sub": "carol", "email": "carol@example.com", "name": "Carol", CLAIM: ["eng"], **over}


async def test_a_255_character_subject_and_the_longest_email_sign_in_whole() -> None:
    # OpenID Connect Core 1.0, 5.1: `sub` is at most 255 ASCII characters.
    sub, email = "s" * 255, "e" * (L.EMAIL_CHARS - 12) + "@example.com"
    who = await client()._identity(claims(sub=sub, email=email), {})
    assert (who.subject, who.email) == (sub, email)


@pytest.mark.parametrize(
    ("claim", "width", "what"), [("sub", 255, "subject"), ("email", L.EMAIL_CHARS, "e-mail")]
)
async def test_a_longer_subject_or_email_refuses_the_sign_in(claim: str, width: int, what: str) -> None:
    with pytest.raises(OidcError, match=f"{what}.* longer than {width} characters"):
        await client()._identity(claims(**{claim: "x" * (width + 1)}), {})


async def test_a_members_255_character_subject_and_longest_email_are_stored_and_audited_whole(
    database: Database,
) -> None:
    sub, email = "s" * 255, "m" * (L.EMAIL_CHARS - 12) + "@example.com"
    async with database.transaction() as session:
        tenant = Tenant(name="eng")
        session.add(tenant)
        await session.flush()
        key = await member_key(session, tenant.id, email, actor=email)
        row = await create_signin_session(
            session,
            tenant_id=tenant.id,
            key_id=key.id,
            member=email,
            subject=sub,
            groups=("eng",),
            surface=None,
            idp_refresh_token_encrypted=None,
            refresh_ttl=timedelta(days=1),
        )
        await audit_member_sign_in(session, who=email, tenant_id=tenant.id, session_id=row.id)
    async with database.session() as session:
        stored = await session.scalar(select(SigninSession.subject).where(SigninSession.id == row.id))
        actors = set((await session.scalars(select(AuditEntry.actor))).all())
    assert stored == sub
    assert email in actors


async def test_a_group_too_long_to_map_is_left_out_and_a_long_name_cut() -> None:
    fits, over = "g" * L.GROUP_CHARS, "g" * (L.GROUP_CHARS + 1)
    who = await client()._identity(claims(**{CLAIM: [fits, over, "eng"], "name": "n" * 1000}), {})
    assert who.groups == (fits, "eng")
    assert who.name is not None and len(who.name) == 200 and who.name.endswith("\u2026")


async def test_an_admin_sign_in_whose_email_is_longer_than_a_user_name_is_refused_not_cut(
    db_url: str, database: Database
) -> None:
    email = "a" * (L.ADMIN_NAME_CHARS - 11) + "@example.com"
    assert len(email) == 201
    who = Identity(subject="a", email=email, name=None, groups=("admins",))
    completion = AdminSsoCompletion(router_settings(db_url), database)
    # Refused before the request or the login state are read.
    response = await completion.complete(cast(Any, None), cast(Any, None), who)
    assert response.status_code == 403
    assert "your e-mail is longer than 200 characters" in str(response.content)
    async with database.session() as session:
        assert (await session.scalars(select(AdminUser))).first() is None


@pytest.mark.parametrize(
    "email",
    ["a" * 188 + "@example.com", "o'brien+ops#1@example.com"],
    ids=["200-characters", "apostrophe-plus-hash"],
)
async def test_an_admin_signs_in_through_the_idp_under_their_whole_email_and_is_audited_by_it(
    db_url: str, database: Database, oidc_idp: TestIdp, email: str
) -> None:
    assert len(email) <= L.ADMIN_NAME_CHARS
    oidc_idp.set_users([IdpUser("longmail", ["platform"], email=email)])
    async with database.transaction() as session:
        await replace_sso_mappings(session, [], [AdminMapping("platform", "owner")], actor="test")
    settings = router_settings(db_url, **oidc_idp.settings(PUBLIC_URL))
    async with AsyncTestClient(create_app(settings, configure_logs=False)) as app:
        to_idp = await app.get("/admin/login/sso", follow_redirects=False)
        assert to_idp.status_code == 303, to_idp.text

        def through_idp() -> httpx.Response:
            with httpx.Client(timeout=10) as browser:
                return oidc_idp.sign_in(browser, to_idp.headers["location"], "longmail")

        back = urlsplit((await asyncio.to_thread(through_idp)).headers["location"])
        signed_in = await app.get(f"/oidc/callback?{back.query}", follow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["location"] == "/admin"
        page = await app.get("/admin/users")
        assert page.status_code == 200
        assert str(escape(email)) in page.text  # as Jinja escapes it
        # The audit page finds their entries by their whole name.
        audit = await app.get("/admin/audit", params={"actor": email})
        assert audit.status_code == 200
        assert '<span class="badge">sign_in</span>' in audit.text and "No entries" not in audit.text
    async with database.session() as session:
        user = await session.scalar(select(AdminUser))
        entries = (await session.execute(select(AuditEntry.actor, AuditEntry.action))).all()
    assert user is not None and user.username == email
    assert (email, "sign_in") in {(actor, action) for actor, action in entries}


def test_two_long_admin_names_differing_at_the_end_are_throttled_apart() -> None:
    one, other = "a" * 199 + "1", "a" * 199 + "2"
    assert user_key(one) != user_key(other)
    assert user_key(one) == "user:" + one


@pytest.mark.parametrize(
    "name",
    ["auth0|65f0c2e1b7", "google-oauth2|1043", "-Xq_8z", "ren\u00e9@example.fr", "x" * L.ADMIN_NAME_CHARS],
)
def test_an_idp_subject_or_email_is_a_valid_admin_name_as_it_comes(name: str) -> None:
    assert validate_username(f" {name} ") == name


@pytest.mark.parametrize("name", ["", "two words", "tab\there", "nul\x00", "x" * (L.ADMIN_NAME_CHARS + 1)])
def test_an_admin_name_with_spaces_or_control_characters_or_too_long_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="printable characters without spaces"):
        validate_username(name)
