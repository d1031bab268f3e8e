"""The Alembic history builds exactly the schema of models.py, and tears it down again, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, select

from router.store.db import Database
from router.store.migrate import current, downgrade, head_revision, migrations_current, upgrade_to_head
from router.store.models import ConfigVersion
from router.store.partitions import include_name, is_partition_name
from router.store.tables import metadata


def _diff(connection: Connection) -> list[Any]:
    # As migrations/env.py configures autogenerate: PostgreSQL's usage partitions are not in models.py.
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": include_name}
    )
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return {name for name in inspect(connection).get_table_names() if not is_partition_name(name)}


async def test_upgrade_builds_the_models_schema_and_downgrade_removes_it(empty_db_url: str) -> None:
    assert await current(empty_db_url) is None

    await upgrade_to_head(empty_db_url)
    assert await current(empty_db_url) == head_revision()
    db = Database(empty_db_url)
    try:
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            assert await conn.run_sync(_tables) == set(metadata.tables) | {"alembic_version"}
            # The migration seeds the config version row.
            assert (await conn.execute(select(ConfigVersion.version))).scalars().all() == [1]
        assert await migrations_current(db)
    finally:
        await db.dispose()

    await downgrade(empty_db_url, "base")
    assert await current(empty_db_url) is None
    db = Database(empty_db_url)
    try:
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_tables) <= {"alembic_version"}
        assert not await migrations_current(db)
    finally:
        await db.dispose()


async def test_upgrade_is_idempotent(empty_db_url: str) -> None:
    await upgrade_to_head(empty_db_url)
    await upgrade_to_head(empty_db_url)
    assert await current(empty_db_url) == head_revision()


async def test_migrations_current_is_false_on_an_empty_database(empty_db_url: str) -> None:
    db = Database(empty_db_url)
    try:
        assert await db.ping()
        assert not await migrations_current(db)
    finally:
        await db.dispose()


async def test_the_rollup_migration_fills_rollups_from_existing_raw_rows(empty_db_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, insert

    from router.store.usage_models import UsageHourly
    from router.store.usage_writes import USAGE_TABLE
    from tests.usage.helpers import event

    await upgrade_to_head(empty_db_url)
    await downgrade(empty_db_url, "0007_key_alias")
    start = datetime(2025, 4, 1, 8, 15, tzinfo=UTC)
    rows = [
        event(
            created_at=start + timedelta(minutes=25 * i), tenant_id=1, cost_usd=0.25, input_tokens=10
        ).as_row()
        for i in range(6)
    ]
    db = Database(empty_db_url)
    try:
        async with db.transaction() as session:
            await session.execute(insert(USAGE_TABLE), rows)
        await upgrade_to_head(empty_db_url)
        async with db.session() as session:
            hours, requests, tokens, nanos = (
                await session.execute(
                    select(
                        func.count(),
                        func.sum(UsageHourly.requests),
                        func.sum(UsageHourly.input_tokens),
                        func.sum(UsageHourly.cost_nanousd),
                    )
                )
            ).one()
    finally:
        await db.dispose()
    # 08:15 .. 10:20, 25 minutes apart: three hours, every request, every token and cent.
    assert (hours, requests, tokens, nanos) == (3, 6, 60, 1_500_000_000)


async def test_the_partition_migration_keeps_every_row_and_id_and_its_downgrade_brings_them_back(
    empty_db_url: str,
) -> None:
    """0010 (PostgreSQL: usage_records partitioned by month; SQLite: unchanged) from the previous head, with
    rows in three months already stored; then down again."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, insert, text

    from router.store.usage_records import find_usage_record, get_usage_record
    from router.store.usage_writes import USAGE_TABLE, existing_request_ids
    from tests.usage.helpers import event

    await upgrade_to_head(empty_db_url)
    await downgrade(empty_db_url, "0009_usage_request_id_index")
    start = datetime(2026, 8, 30, tzinfo=UTC)
    rows = [
        event(request_id=f"m{i}", created_at=start + timedelta(days=15 * i), input_tokens=i).as_row()
        for i in range(6)
    ]
    db = Database(empty_db_url)
    postgres = db.engine.dialect.name == "postgresql"

    async def stored() -> list[tuple[int, str, int]]:
        async with db.session() as session:
            result = await session.execute(
                select(USAGE_TABLE.c.id, USAGE_TABLE.c.request_id, USAGE_TABLE.c.input_tokens).order_by("id")
            )
            return [(int(a), str(b), int(c)) for a, b, c in result.all()]

    async def where() -> set[str]:
        async with db.session() as session:
            return set(
                (await session.scalars(text("SELECT tableoid::regclass::text FROM usage_records"))).all()
            )

    try:
        async with db.transaction() as session:
            await session.execute(insert(USAGE_TABLE), rows)
        before = await stored()
        assert len(before) == 6

        await upgrade_to_head(empty_db_url)

        assert await stored() == before
        if postgres:
            assert await where() == {
                "usage_records_p2026_08", "usage_records_p2026_09", "usage_records_p2026_10",
                "usage_records_p2026_11",
            }  # fmt: skip
        async with db.transaction() as session:
            # Ids go on from the same sequence; detail by row id and by request id still find their row.
            await session.execute(insert(USAGE_TABLE), [event(request_id="after").as_row()])
        async with db.session() as session:
            newest = await find_usage_record(session, "after")
            assert newest is not None and newest.id > before[-1][0]
            by_id = await get_usage_record(session, before[2][0])
            assert by_id is not None and by_id.request_id == "m2"
            found = await existing_request_ids(session, start, start + timedelta(days=90), ["m0", "m5", "x"])
            assert found == {"m0", "m5"}
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_diff) == []

        await downgrade(empty_db_url, "0009_usage_request_id_index")

        after = await stored()
        assert after[:6] == before and [r[1] for r in after[6:]] == ["after"]
        if postgres:
            assert await where() == {"usage_records"}
            async with db.session() as session:
                kind = await session.scalar(
                    text("SELECT relkind::text FROM pg_class WHERE relname = 'usage_records'")
                )
                count = await session.scalar(select(func.count()).select_from(USAGE_TABLE))
            assert (kind, count) == ("r", 7)
    finally:
        await db.dispose()


async def test_the_daily_rollup_migration_fills_days_from_the_hourly_rollups(empty_db_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from router.store.usage_models import UsageDaily
    from router.store.usage_rollups import rebuild_rollups_sync
    from router.store.usage_writes import USAGE_TABLE
    from tests.usage.helpers import event

    await upgrade_to_head(empty_db_url)
    await downgrade(empty_db_url, "0011_alerts")
    start = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
    rows = [
        event(created_at=start + timedelta(hours=3 * i), cost_usd=0.5, input_tokens=7).as_row()
        for i in range(8)
    ]
    db = Database(empty_db_url)
    try:
        async with db.transaction() as session:
            await session.execute(insert(USAGE_TABLE), rows)
            await session.run_sync(lambda sync: rebuild_rollups_sync(sync.connection()))
        await upgrade_to_head(empty_db_url)
        async with db.session() as session:
            days = (
                await session.execute(
                    select(
                        UsageDaily.day, UsageDaily.requests, UsageDaily.input_tokens, UsageDaily.cost_nanousd
                    ).order_by(UsageDaily.day)
                )
            ).all()
    finally:
        await db.dispose()
    # 20:00 on Nov 1 then every three hours: 2 rows that day, 6 on Nov 2 (the last at 17:00).
    assert [(d.replace(tzinfo=UTC).day, r, t, n) for d, r, t, n in days] == [
        (1, 2, 14, 1_000_000_000),
        (2, 6, 42, 3_000_000_000),
    ]


async def test_the_budgets_migration_turns_monthly_budgets_into_month_budgets_and_back(
    empty_db_url: str,
) -> None:
    from sqlalchemy import text

    from router.store.models import Budget

    await upgrade_to_head(empty_db_url)
    await downgrade(empty_db_url, "0012_usage_daily")
    db = Database(empty_db_url)
    try:
        async with db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO tenants (id, name, enabled, budget_usd, member_self_service, created_at, updated_at)"
                    " VALUES (1, 'acme', true, 300.0, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),"
                    " (2, 'free', true, NULL, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            await session.execute(
                text("INSERT INTO api_keys (id, tenant_id, member, key_hash, prefix, created_at, budget_usd)"
                     " VALUES (5, 1, 'ann', 'h5', 'rk-aaaa', CURRENT_TIMESTAMP, 20.5),"
                     " (6, 1, 'bob', 'h6', 'rk-bbbb', CURRENT_TIMESTAMP, NULL)")
            )  # fmt: skip
        await upgrade_to_head(empty_db_url)
        async with db.session() as session:
            rows = (await session.scalars(select(Budget).order_by(Budget.subject_kind))).all()
            moved = [(b.subject_kind, b.tenant_id, b.key_id, b.member, b.window, b.amount_usd) for b in rows]
        assert moved == [("key", 1, 5, "", "month", 20.5), ("tenant", 1, None, "", "month", 300.0)]

        await downgrade(empty_db_url, "0012_usage_daily")
        async with db.session() as session:
            tenants = (await session.execute(text("SELECT name, budget_usd FROM tenants ORDER BY id"))).all()
            keys = (await session.execute(text("SELECT member, budget_usd FROM api_keys ORDER BY id"))).all()
        assert [tuple(t) for t in tenants] == [("acme", 300.0), ("free", None)]
        assert [tuple(k) for k in keys] == [("ann", 20.5), ("bob", None)]
    finally:
        await db.dispose()


async def test_the_identity_widths_migration_widens_keeping_every_row_and_narrows_only_what_fits(
    empty_db_url: str,
) -> None:
    """0014 from 0013 with an admin who has a tenant link and a session (a SQLite rebuild of admin_users
    would cascade-delete both), a member's sign-in session, an audit entry, an API token and a throttle row;
    then the widest values fit whole, and the downgrade refuses while one of them is stored."""
    from datetime import UTC, datetime, timedelta

    import pytest
    from sqlalchemy import String, delete, func, update

    from router.config import lengths as L
    from router.store.identity_models import (
        AdminApiToken,
        AdminSessionRow,
        AdminUser,
        AdminUserTenant,
        SigninSession,
        SignInThrottle,
    )
    from router.store.models import ApiKey, AuditEntry, Tenant

    await upgrade_to_head(empty_db_url)
    await downgrade(empty_db_url, "0013_budgets")
    db = Database(empty_db_url)
    later = datetime.now(UTC) + timedelta(days=1)

    async def children() -> tuple[list[tuple[int, int]], list[int]]:
        async with db.session() as session:
            links = (await session.execute(select(AdminUserTenant.user_id, AdminUserTenant.tenant_id))).all()
            sessions = (await session.scalars(select(AdminSessionRow.user_id))).all()
        return [(u, t) for u, t in links], list(sessions)

    def widths(connection: Connection) -> dict[str, int | None]:
        found = {}
        for table, column in [("signin_sessions", "subject"), ("admin_users", "username"),
                              ("audit_log", "actor"), ("admin_api_tokens", "created_by"),
                              ("sign_in_throttle", "key")]:  # fmt: skip
            (kind,) = [c["type"] for c in inspect(connection).get_columns(table) if c["name"] == column]
            assert isinstance(kind, String)
            found[f"{table}.{column}"] = kind.length
        return found

    try:
        async with db.transaction() as session:
            session.add(Tenant(id=1, name="acme"))
            await session.flush()
            session.add(ApiKey(id=1, tenant_id=1, member="m@example.com", key_hash="h1", prefix="rk-1"))
            session.add(AdminUser(id=1, username="ann@example.com", password_hash="!", role="tenant-admin"))
            await session.flush()
            session.add(AdminUserTenant(user_id=1, tenant_id=1))
            session.add(AdminSessionRow(token_hash="t" * 64, user_id=1, expires_at=later))
            session.add(SigninSession(id="s1", tenant_id=1, key_id=1, member="m@example.com", subject="sub",
                                      expires_at=later))  # fmt: skip
            session.add(AuditEntry(actor="ann@example.com", action="create", object_type="tenant"))
            session.add(AdminApiToken(name="ci", token_hash="a" * 64, prefix="rt-1", role="admin",
                                      created_by="ann@example.com"))  # fmt: skip
            session.add(SignInThrottle(key="user:ann@example.com", failures=2))
        before = await children()
        assert before == ([(1, 1)], [1])

        await upgrade_to_head(empty_db_url)

        assert await children() == before
        async with db.engine.connect() as conn:
            assert await conn.run_sync(widths) == {
                "signin_sessions.subject": L.SUBJECT_CHARS,
                "admin_users.username": L.ADMIN_NAME_CHARS,
                "audit_log.actor": L.AUDIT_ACTOR_CHARS,
                "admin_api_tokens.created_by": L.AUDIT_ACTOR_CHARS,
                "sign_in_throttle.key": L.THROTTLE_KEY_CHARS,
            }
            assert await conn.run_sync(_diff) == []
        sub = "s" * 255
        admin = "a" * 188 + "@example.com"
        async with db.transaction() as session:
            await session.execute(update(SigninSession).values(subject=sub))
            await session.execute(update(AdminUser).values(username=admin))
            await session.execute(update(AuditEntry).values(actor="member:" + admin))
        async with db.session() as session:
            assert await session.scalar(select(SigninSession.subject)) == sub
            assert await session.scalar(select(AdminUser.username)) == admin
            assert await session.scalar(select(AuditEntry.actor)) == "member:" + admin

        with pytest.raises(
            RuntimeError, match=r"signin_sessions\.subject \(1 longer than 200\).*admin_users"
        ):
            await downgrade(empty_db_url, "0013_budgets")
        assert await current(empty_db_url) == head_revision()

        async with db.transaction() as session:
            await session.execute(update(SigninSession).values(subject="sub"))
            await session.execute(update(AdminUser).values(username="ann@example.com"))
            await session.execute(delete(AuditEntry))
        await downgrade(empty_db_url, "0013_budgets")

        assert await children() == before
        async with db.engine.connect() as conn:
            narrowed = await conn.run_sync(widths)
        assert narrowed["signin_sessions.subject"] == 200 and narrowed["admin_users.username"] == 100
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(SignInThrottle)) == 1
    finally:
        await db.dispose()


async def test_the_tables_updated_in_place_leave_room_on_each_postgresql_page(empty_db_url: str) -> None:
    from sqlalchemy import text

    from router.store.models import UPDATED_IN_PLACE_FILLFACTOR as fillfactor

    query = text(
        "SELECT relname, reloptions FROM pg_class"
        " WHERE relname IN ('usage_hourly', 'usage_daily', 'api_keys') ORDER BY relname"
    )

    async def options() -> list[tuple[str, list[str] | None]]:
        db = Database(empty_db_url)
        try:
            async with db.session() as session:
                return [(row[0], row[1]) for row in (await session.execute(query)).all()]
        finally:
            await db.dispose()

    await upgrade_to_head(empty_db_url)
    if not empty_db_url.startswith("postgresql"):
        return  # SQLite has no fillfactor; the migration does nothing there (upgrade above proves it runs)
    setting = [f"fillfactor={fillfactor}"]
    assert await options() == [("api_keys", setting), ("usage_daily", setting), ("usage_hourly", setting)]
    await downgrade(empty_db_url, "0014_identity_widths")
    assert await options() == [("api_keys", None), ("usage_daily", None), ("usage_hourly", None)]
