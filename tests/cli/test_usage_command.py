"""`router usage`: totals, groups, filters and formats from a real database."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from router.cli.usage import parse_moment, usage
from router.store.db import Database
from router.store.migrate import upgrade_to_head
from router.store.usage_writes import insert_usage_batch
from tests.usage.helpers import add_tenant_with_keys, event


@pytest.fixture
async def cli_db(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    await upgrade_to_head(url)  # the schema as `router` itself creates it
    database = Database(url)
    tenant_id, (key_id,) = await add_tenant_with_keys(database, "alpha", ["rk-a"])
    now = datetime.now(UTC)
    async with database.transaction() as session:
        await insert_usage_batch(
            session,
            [
                event(
                    created_at=now - timedelta(hours=1),
                    tenant_id=tenant_id,
                    key_id=key_id,
                    key_prefix="rk-a",
                    requested_model="claude-sonnet-4",
                    target="openai/gpt-4.1",
                    input_tokens=100,
                    output_tokens=20,
                    cost_usd=0.3,
                ),
                event(
                    created_at=now - timedelta(hours=2),
                    tenant_id=tenant_id,
                    key_id=key_id,
                    key_prefix="rk-a",
                    requested_model="claude-haiku",
                    target="azure/gpt4o",
                    input_tokens=10,
                    cost_usd=0.01,
                    outcome="error",
                ),
                event(
                    created_at=now - timedelta(days=10),
                    tenant_id=tenant_id,
                    requested_model="claude-haiku",
                    cost_usd=5.0,
                ),
                event(
                    created_at=now - timedelta(hours=1),
                    tenant_id=tenant_id + 1,
                    requested_model="other",
                    cost_usd=1.0,
                ),
            ],
        )
    await database.dispose()
    return url


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(usage, list(args), env={"ROUTER_DATABASE_URL": url})


def test_json_rows_carry_the_name_under_name_and_under_the_grouping(cli_db: str) -> None:
    result = run(cli_db, "--tenant", "alpha", "--since", "7d", "--by", "model", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["model"]: r["requests"] for r in rows} == {"claude-sonnet-4": 1, "claude-haiku": 1}
    sonnet = next(r for r in rows if r["name"] == "claude-sonnet-4")
    assert sonnet == {
        "name": "claude-sonnet-4",
        "model": "claude-sonnet-4",
        "requests": 1,
        "errors": 0,
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost_usd": "0.300000000",  # exact text: the rollups' nano-dollars, no float noise
    }


def test_without_by_one_total_row(cli_db: str) -> None:
    rows = json.loads(run(cli_db, "--since", "30d", "--format", "json").output)
    assert len(rows) == 1 and rows[0]["name"] == "total"
    assert rows[0]["requests"] == 4 and rows[0]["errors"] == 1
    assert rows[0]["cost_usd"] == "6.310000000"


def test_table_is_aligned_and_csv_has_a_header(cli_db: str) -> None:
    table = run(cli_db, "--since", "24h", "--by", "target").output.splitlines()
    assert table[0].split()[:3] == ["target", "requests", "errors"]
    assert len({len(line) for line in table}) <= 2  # right-aligned numbers: rows end in the same column
    assert any(line.startswith("openai/gpt-4.1") for line in table)
    rows = list(
        csv.DictReader(io.StringIO(run(cli_db, "--since", "24h", "--by", "key", "--format", "csv").output))
    )
    assert {r["key"]: int(r["requests"]) for r in rows} == {"rk-a": 2, "": 1}
    assert {r["key"]: r["cost_usd"] for r in rows} == {"rk-a": "0.310000000", "": "1.000000000"}


def test_filters_by_key_model_and_target(cli_db: str) -> None:
    def total(*args: str) -> int:
        return int(json.loads(run(cli_db, "--since", "24h", "--format", "json", *args).output)[0]["requests"])

    assert total("--key", "rk-a") == 2
    assert total("--model", "claude-haiku") == 1
    assert total("--target", "azure/gpt4o") == 1


def test_errors_are_one_line_and_exit_1(cli_db: str, tmp_path: Path) -> None:
    unknown = run(cli_db, "--tenant", "nobody")
    assert unknown.exit_code == 1 and unknown.output.strip() == "error: no tenant named 'nobody'"
    bad_since = run(cli_db, "--since", "yesterday-ish")
    assert bad_since.exit_code == 1 and bad_since.output.startswith("error: not a duration")
    missing = run("postgresql+asyncpg://postgres:hunter2@127.0.0.1:1/nothing", "--since", "1d")
    assert missing.exit_code == 1
    assert missing.output.startswith("error: ") and len(missing.output.strip().splitlines()) == 1
    assert "hunter2" not in missing.output


def test_durations_and_dates_parse_to_utc_moments() -> None:
    now = datetime(2025, 5, 10, 12, 0, tzinfo=UTC)
    assert parse_moment("7d", now=now) == now - timedelta(days=7)
    assert parse_moment("24h", now=now) == now - timedelta(hours=24)
    assert parse_moment("30m", now=now) == now - timedelta(minutes=30)
    assert parse_moment("2025-05-01", now=now) == datetime(2025, 5, 1, tzinfo=UTC)


def test_rebuild_rollups_recomputes_them_from_raw_rows_and_is_idempotent(cli_db: str) -> None:
    before = json.loads(run(cli_db, "--since", "30d", "--format", "json").output)
    lost = sqlite3.connect(cli_db.split("///", 1)[1])
    lost.execute("DELETE FROM usage_hourly")
    lost.execute("DELETE FROM usage_daily")
    lost.commit()
    assert json.loads(run(cli_db, "--since", "30d", "--format", "json").output)[0]["requests"] == 0
    for _ in range(2):
        rebuilt = run(cli_db, "rebuild-rollups", "--since", "30d")
        assert rebuilt.exit_code == 0 and rebuilt.output.startswith("rebuilt 4 hourly rollup rows from ")
        assert json.loads(run(cli_db, "--since", "30d", "--format", "json").output) == before
    assert run(cli_db, "rebuild-rollups").output == "rebuilt 4 hourly rollup rows for all hours\n"
    bad = run(cli_db, "rebuild-rollups", "--since", "last tuesday")
    assert bad.exit_code == 1 and bad.output.startswith("error: not a duration")


async def _seed_month(url: str) -> list[float]:
    database = Database(url)
    tenant_id, (key_id,) = await add_tenant_with_keys(database, "beta", ["rk-b"])
    june = datetime(2025, 6, 1, tzinfo=UTC)
    costs = [0.1, 0.2, 0.3, 0.000_000_4, 1 / 3, 0.7]
    events = [
        event(
            created_at=june + timedelta(days=i * 5, minutes=i),
            tenant_id=tenant_id,
            key_id=key_id,
            key_prefix="rk-b",
            member="ann@example.com" if i % 2 else "bob@example.com",
            requested_model="claude-sonnet-4" if i < 3 else "claude-haiku",
            input_tokens=100 * (i + 1),
            cache_read_tokens=i,
            cost_usd=cost,
        )
        for i, cost in enumerate(costs)
    ]
    # Outside June: the month before and the first instant of the next.
    events += [
        event(created_at=june - timedelta(seconds=1), tenant_id=tenant_id, cost_usd=9.0),
        event(created_at=datetime(2025, 7, 1, tzinfo=UTC), tenant_id=tenant_id, cost_usd=9.0),
    ]
    async with database.transaction() as session:
        await insert_usage_batch(session, events)
    await database.dispose()
    return costs


def test_chargeback_export_groups_a_month_with_exact_costs(cli_db: str) -> None:
    costs = asyncio.run(_seed_month(cli_db))
    result = run(cli_db, "export", "--month", "2025-06", "--by", "tenant,member,model", "--format", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    rows = body["rows"]
    assert {(r["tenant"], r["member"], r["model"]) for r in rows} == {
        ("beta", "bob@example.com", "claude-sonnet-4"),
        ("beta", "ann@example.com", "claude-sonnet-4"),
        ("beta", "ann@example.com", "claude-haiku"),
        ("beta", "bob@example.com", "claude-haiku"),
    }
    assert sum(r["requests"] for r in rows) == 6 == body["total"]["requests"]
    assert body["total"]["input_tokens"] == sum(100 * (i + 1) for i in range(6))
    # Exact decimals: 0.1 + 0.3 is 0.4, not 0.4000000000000001; the total is the rows' sum.
    by_pair = {(r["member"], r["model"]): r["cost_usd"] for r in rows}
    assert by_pair[("bob@example.com", "claude-sonnet-4")] == "0.400000000"
    assert by_pair[("ann@example.com", "claude-haiku")] == "0.700000400"
    assert body["total"]["cost_usd"] == "1.633333733"
    assert abs(float(body["total"]["cost_usd"]) - sum(costs)) < 0.005
    # The same totals as the rollups' own report for the month.
    june = run(
        cli_db, "--since", "2025-06-01", "--until", "2025-07-01", "--tenant", "beta", "--format", "json"
    )
    assert json.loads(june.output)[0]["requests"] == 6
    assert json.loads(june.output)[0]["cost_usd"] == body["total"]["cost_usd"]  # to the nano-dollar
    as_csv = run(cli_db, "export", "--month", "2025-06", "--by", "model")
    lines = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [line["model"] for line in lines] == ["claude-haiku", "claude-sonnet-4"]
    assert [line["cost_usd"] for line in lines] == ["1.033333733", "0.600000000"]
    assert set(lines[0]) == {
        "model", "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens",
        "cache_write_tokens", "cost_usd",
    }  # fmt: skip


def test_chargeback_export_refuses_a_bad_month_or_grouping_in_one_line(cli_db: str) -> None:
    for args, message in [
        (["--month", "2025-13"], "error: not a month (YYYY-MM): '2025-13'"),
        (["--month", "June"], "error: not a month (YYYY-MM): 'June'"),
        (
            ["--month", "2025-06", "--by", "tenant,colour"],
            "error: cannot group by 'colour': use one or more of",
        ),
        (["--month", "2025-06", "--by", "model,model"], "error: a grouping is repeated: 'model,model'"),
    ]:
        result = run(cli_db, "export", *args)
        assert result.exit_code == 1 and result.output.startswith(message), result.output
        assert len(result.output.strip().splitlines()) == 1


def test_show_prints_one_request_with_its_attempts_and_scrubbed_errors(cli_db: str) -> None:
    async def seed() -> None:
        database = Database(cli_db)
        async with database.transaction() as session:
            await insert_usage_batch(
                session,
                [
                    event(
                        request_id="req_detail_1",
                        created_at=datetime(2025, 6, 3, 10, 0, tzinfo=UTC),
                        key_prefix="rk-a",
                        requested_model="claude-sonnet-4",
                        target="azure/gpt4o",
                        attempts=[
                            {
                                "target": "openai/gpt-4.1",
                                "status": 429,
                                "error_type": "rate_limit_error",
                                "latency_ms": 40,
                                "error": "quota hit for key sk-live0123456789abcdef",
                            },
                            {"target": "azure/gpt4o", "status": 200, "error_type": None, "latency_ms": 900},
                        ],
                        latency_ms=950,
                        ttft_ms=310,
                        cost_usd=0.25,
                    )
                ],
            )
        await database.dispose()

    asyncio.run(seed())
    text_out = run(cli_db, "show", "req_detail_1")
    assert text_out.exit_code == 0, text_out.output
    assert "sk-live0123456789abcdef" not in text_out.output and "quota hit for key" in text_out.output
    lines = text_out.output.splitlines()
    assert any(line.split() == ["ttft_ms", "310"] for line in lines)
    first = next(line for line in lines if line.startswith("1 "))
    assert first.split()[:4] == ["1", "openai/gpt-4.1", "429", "rate_limit_error"]
    second = next(line for line in lines if line.startswith("2 "))
    assert second.split()[:7] == ["2", "azure/gpt4o", "200", "-", "-", "900", "310"]
    as_json = json.loads(run(cli_db, "show", "req_detail_1", "--format", "json").output)
    assert [a["status"] for a in as_json["attempts"]] == [429, 200]
    assert as_json["attempts"][0]["ttft_ms"] is None and as_json["attempts"][1]["ttft_ms"] == 310
    assert "sk-live0123456789abcdef" not in json.dumps(as_json)
    by_row_id = json.loads(run(cli_db, "show", str(as_json["id"]), "--format", "json").output)
    assert by_row_id["request_id"] == "req_detail_1"
    missing = run(cli_db, "show", "req_nope")
    assert missing.exit_code == 1 and missing.output.strip() == "error: no request with id 'req_nope'"


def test_prune_deletes_old_raw_rows_and_reports_keep_them(cli_db: str) -> None:
    before = json.loads(run(cli_db, "--since", "30d", "--format", "json").output)
    pruned = run(cli_db, "prune", "--older-than", "5d")
    assert pruned.exit_code == 0 and pruned.output.startswith("deleted 1 raw usage rows created before ")
    assert json.loads(run(cli_db, "--since", "30d", "--format", "json").output) == before
    bad = run(cli_db, "prune", "--older-than", "ages")
    assert bad.exit_code == 1 and bad.output.startswith("error: not a duration")
