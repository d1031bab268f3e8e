"""What an IdP says of a person is bounded where it comes in: a subject or an e-mail longer than the router
keeps refuses the sign-in, and so does an admin sign-in whose e-mail is longer than an admin user name (cut,
two people could become one); a group too long for any mapping to name is left out (cut, it could equal
another group); a display name is cut."""

from __future__ import annotations

from typing import Any, cast

import pytest
from sqlalchemy import select

from router.admin.sso import AdminSsoCompletion
from router.config import lengths as L
from router.identity.oidc import Identity, OidcClient, OidcError
from router.store.db import Database
from router.store.identity_models import AdminUser
from tests.fixtures.app import router_settings

CLAIM = "groups"


def client() -> OidcClient:
    return OidcClient(router_settings("sqlite+aiosqlite:///unused.db", oidc_groups_claim=CLAIM))


def claims(**over: Any) -> dict[str, Any]:
    return {"sub": "carol", "email": "carol@example.com", "name": "Carol", CLAIM: ["eng"], **over}


async def test_the_longest_subject_and_email_sign_in_whole() -> None:
    sub, email = "s" * L.SUBJECT_CHARS, "e" * (L.EMAIL_CHARS - 12) + "@example.com"
    who = await client()._identity(claims(sub=sub, email=email), {})
    assert (who.subject, who.email) == (sub, email)


@pytest.mark.parametrize(
    ("claim", "width", "what"), [("sub", L.SUBJECT_CHARS, "subject"), ("email", L.EMAIL_CHARS, "e-mail")]
)
async def test_a_longer_subject_or_email_refuses_the_sign_in(claim: str, width: int, what: str) -> None:
    with pytest.raises(OidcError, match=f"{what}.* longer than {width} characters"):
        await client()._identity(claims(**{claim: "x" * (width + 1)}), {})


async def test_a_group_too_long_to_map_is_left_out_and_a_long_name_cut() -> None:
    fits, over = "g" * L.GROUP_CHARS, "g" * (L.GROUP_CHARS + 1)
    who = await client()._identity(claims(**{CLAIM: [fits, over, "eng"], "name": "n" * 1000}), {})
    assert who.groups == (fits, "eng")
    assert who.name is not None and len(who.name) == 200 and who.name.endswith("\u2026")


async def test_an_admin_sign_in_whose_email_is_longer_than_a_user_name_is_refused_not_cut(
    db_url: str, database: Database
) -> None:
    email = "a" * (L.NAME_CHARS - 11) + "@example.com"
    assert len(email) == L.NAME_CHARS + 1
    who = Identity(subject="a", email=email, name=None, groups=("admins",))
    completion = AdminSsoCompletion(router_settings(db_url), database)
    # Refused before the request or the login state are read.
    response = await completion.complete(cast(Any, None), cast(Any, None), who)
    assert response.status_code == 403
    assert f"longer than {L.NAME_CHARS} characters" in str(response.content)
    async with database.session() as session:
        assert (await session.scalars(select(AdminUser))).first() is None
