"""Pools through the admin page: create with members and quotas, edit, refuse bad input, delete when unused."""

from __future__ import annotations

from router.store import catalog
from tests.admin.conftest import AdminClient
from tests.admin.test_catalog_pages import location_id, make_provider


async def test_pool_create_edit_and_delete(admin: AdminClient) -> None:
    await make_provider(admin)
    listing = await admin.get("/admin/pools")
    assert listing.status_code == 200 and "No pools yet." in listing.text

    bad = await admin.post(
        "/admin/pools",
        {"name": "gpt", "strategy": "weighted", "members": "oa/gpt-4.1 weight=3\nghost/x", "sticky": "on"},
    )
    assert bad.status_code == 422 and "unknown provider" in bad.text.lower() and 'value="gpt"' in bad.text
    malformed = await admin.post(
        "/admin/pools", {"name": "gpt", "strategy": "weighted", "members": "oa/gpt-4.1 weight=lots"}
    )
    assert malformed.status_code == 422 and "is not weight=N" in malformed.text

    created = await admin.post(
        "/admin/pools",
        {
            "name": "gpt",
            "strategy": "weighted",
            "members": "oa/gpt-4.1 weight=3 rpm=600\noa/gpt-4.1-mini tpm=90000",
            "sticky": "on",
        },
    )
    assert created.status_code == 303, created.text
    pool_id = location_id(created, "pools")
    page = await admin.get(f"/admin/pools/{pool_id}")
    assert "oa/gpt-4.1 weight=3 rpm=600" in page.text and "oa/gpt-4.1-mini weight=1 tpm=90000" in page.text

    saved = await admin.post(
        f"/admin/pools/{pool_id}", {"strategy": "least-busy", "members": "oa/gpt-4.1-mini weight=2"}
    )
    assert saved.status_code == 303, saved.text
    async with admin.db.session() as session:
        pool = await catalog.get_pool(session, pool_id)
        assert (pool.strategy, pool.sticky) == ("least-busy", False)
        assert [(m.target, m.weight) for m in catalog.pool_members(pool)] == [("oa/gpt-4.1-mini", 2)]

    rule = await admin.post("/admin/rules/global", {"match": "*", "target": "pool/gpt"})
    assert rule.status_code in (200, 303), rule.text
    refused = await admin.post(f"/admin/pools/{pool_id}/delete", {})
    assert refused.status_code == 422 and "is used by" in refused.text
    assert (await admin.get("/admin/pools/999")).status_code == 404


async def test_try_it_shows_the_member_a_session_would_get(admin: AdminClient) -> None:
    await make_provider(admin)
    await admin.get("/admin/pools")
    created = await admin.post(
        "/admin/pools",
        {"name": "gpt", "strategy": "weighted", "members": "oa/gpt-4.1\noa/gpt-4.1-mini", "sticky": "on"},
    )
    assert created.status_code == 303, created.text
    rule = await admin.post("/admin/rules/global", {"match": "*", "target": "pool/gpt", "enabled": "on"})
    assert rule.status_code == 200, rule.text
    await admin.get("/admin/rules")
    answer = await admin.htmx(
        "POST", "/admin/rules/try", {"model": "claude-sonnet-4-5", "user_id": "user_x_session_abc"}
    )
    assert answer.status_code == 200, answer.text
    assert "pool/gpt" in answer.text and "sticky: this session&#39;s member" in answer.text
