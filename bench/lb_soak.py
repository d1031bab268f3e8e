"""Three replicas behind a real load balancer, through restarts: `make soak-lb` (= python -m bench.lb_soak).

HAProxy (Debian's package) in front of three `router serve` processes that share a private PostgreSQL
cluster and a private Redis (bench/lb_stack.py), driven at c=64 with tiny requests (half streamed) against
the fake upstream for at least 60 s, while, in turn:

1. steady      the three replicas serve;
2. limits      a key with rpm 30 and a key with a budget worth 10 requests each get a burst of 200
               concurrent requests through the balancer (spread over the three replicas);
3. rolling     each replica in turn: SIGTERM, wait for it to exit, start it again, wait until HAProxy
               counts it UP. /readyz answers 503 from the SIGTERM, HAProxy's check takes the replica out
               within about a second, and the replica keeps serving for its drain (5 s) meanwhile;
4. kill        `kill -9` of one replica, then started again (its usage spool is replayed on start);
5. postgres    `pg_ctl restart -m fast` of the (private) database;
6. tail        steady again, until at least 60 s of load.

Each request is attributed to the phase in which it ended. What is asserted (tests/deploy/test_lb_soak.py,
and the exit status here):

- no request fails in the steady, limits, rolling and tail phases, nor in the postgres phase (the request
  path does not touch the database);
- in the kill phase, at most the requests in flight on the killed replica fail: the bound asserted is the
  concurrency (a client has no more in flight), the figure reported is HAProxy's count of the replica's
  sessions at the kill;
- every complete answer (a 200 with its whole body, a stream ending in message_stop, or a refusal) has
  exactly one usage record, matched by the request-id the client saw; records that no client saw answered
  can only come from requests cut by the kill (their records were durable before the client got the end);
- rpm: at most 30 of 200 served; budget: between 1 and 10 + 3 (replicas) served.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.fake_upstream import loop_factory
from bench.lb_driver import Answer, Driver, burst
from bench.lb_services import HOST
from bench.lb_stack import PRICE_PER_MTOK, Stack
from bench.load import percentiles

CONCURRENCY = 64
MIN_SECONDS = 60.0
RPM = 30
BUDGET_REQUESTS = 10
BURST = 200
SLOW = 2.0
PHASES = ("steady", "limits", "rolling", "kill", "postgres", "tail")
# The fake upstream answers every call with 1,200 prompt and 20 completion tokens.
COST_PER_REQUEST = (1200 + 20) * PRICE_PER_MTOK / 1_000_000
# A budget request's max_tokens: its worst case reserved at admission must cover its real cost (the fake
# upstream counts 1,200 prompt tokens for a one-word prompt), or the reservation would understate it.
BUDGET_MAX_TOKENS = 2048


@dataclass
class PhaseFigures:
    seconds: float
    requests: int
    failed: int
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    failures: list[str] = field(default_factory=list)


@dataclass
class Report:
    concurrency: int
    seconds: float
    phases: dict[str, PhaseFigures]
    events: list[str]
    answered: int  # complete answers with a request-id
    records: int
    missing: list[str]  # answered request ids without a record
    duplicated: list[str]  # answered request ids with more than one record
    unanswered_records: int  # records whose request id no client saw answered
    killed_sessions: int  # HAProxy's current sessions on the replica at the kill -9
    # Failed requests of the kill phase sent after the kill: HAProxy had reused an idle connection to the
    # killed replica (it then closes the client's connection unanswered, for the client to retry).
    kill_failed_sent_after: int
    # Answers slower than SLOW seconds, by phase and replica ("phase/replica": count).
    slow: dict[str, int]
    spool_replayed: int  # records the killed replica had made durable but not written, replayed on its start
    rpm_served: int
    rpm_statuses: dict[int, int]
    budget_served: int
    budget_statuses: dict[int, int]
    budget_spent_usd: float
    budget_usd: float
    replicas: int
    postgres_restart_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Soak:
    def __init__(self, stack: Stack, concurrency: int, min_seconds: float) -> None:
        self.stack = stack
        self.concurrency = concurrency
        self.min_seconds = min_seconds
        self.marks: list[tuple[float, str]] = []
        self.events: list[str] = []
        self.killed_sessions = 0
        self.killed_at = 0.0
        self.pg_restart_s = 0.0
        self.bursts: dict[str, list[Answer]] = {}
        self.budget_usd = 0.0

    def mark(self, phase: str) -> None:
        self.marks.append((time.monotonic(), phase))
        self.event(f"phase {phase}")

    def event(self, what: str) -> None:
        start = self.marks[0][0] if self.marks else time.monotonic()
        self.events.append(f"{time.monotonic() - start:6.1f}s {what}")

    async def run(self) -> Report:
        stack = self.stack
        load_key = await asyncio.to_thread(stack.key, "load")
        rpm_key = await asyncio.to_thread(stack.key, "rpm", "--rpm", str(RPM))
        self.budget_usd = round(COST_PER_REQUEST * BUDGET_REQUESTS, 9)
        budget_key = await asyncio.to_thread(stack.key, "budget", "--budget-usd", str(self.budget_usd))
        driver = Driver(stack.lb_port, load_key, self.concurrency)
        driver.start()
        self.mark("steady")
        began = time.monotonic()
        await asyncio.sleep(5)

        self.mark("limits")
        # rpm counts per UTC minute: a burst must not straddle two.
        if time.time() % 60 > 45:
            await asyncio.sleep(61 - time.time() % 60)
        self.bursts["rpm"] = await burst(stack.lb_port, "rpm", rpm_key, BURST, 32)
        self.bursts["budget"] = await burst(stack.lb_port, "budget", budget_key, BURST, BUDGET_MAX_TOKENS)
        await asyncio.sleep(2)

        self.mark("rolling")
        for replica in stack.routers:
            stack.sigterm(replica)
            self.event(f"SIGTERM {replica.name}")
            code = await asyncio.to_thread(stack.wait_exit, replica)
            self.event(f"{replica.name} exited {code}")
            stack.start_replica(replica)
            took = await asyncio.to_thread(stack.wait_up, replica)
            self.event(f"{replica.name} UP again ({took:.1f}s after start)")
        await asyncio.sleep(2)

        self.mark("kill")
        victim = stack.routers[1]
        self.killed_sessions = int(stack.status(victim).get("scur") or 0)
        self.killed_at = time.monotonic()
        stack.kill9(victim)
        self.event(f"kill -9 {victim.name} ({self.killed_sessions} sessions on it)")
        await asyncio.to_thread(stack.wait_exit, victim)
        await asyncio.sleep(1)
        stack.start_replica(victim)
        took = await asyncio.to_thread(stack.wait_up, victim)
        self.event(f"{victim.name} UP again ({took:.1f}s after start)")
        await asyncio.sleep(2)

        self.mark("postgres")
        assert stack.postgres is not None
        self.pg_restart_s = await asyncio.to_thread(stack.postgres.restart)
        self.event(f"PostgreSQL restarted in {self.pg_restart_s:.1f}s")
        for replica in stack.routers:
            await asyncio.to_thread(stack.wait_up, replica)
        await asyncio.sleep(5)

        self.mark("tail")
        await asyncio.sleep(max(5.0, self.min_seconds - (time.monotonic() - began)))
        await driver.stop()
        ended = time.monotonic()
        self.event("load stopped")
        await asyncio.to_thread(stack.stop_replicas)
        self.event("replicas stopped")
        records = await _records(stack)
        return self.report(driver.answers, records, began, ended)

    def report(
        self, load: list[Answer], records: list[tuple[str, str | None, float]], began: float, ended: float
    ) -> Report:
        every = load + [a for answers in self.bursts.values() for a in answers]
        times = [t for t, _ in self.marks]

        def phase_of(answer: Answer) -> str:
            return self.marks[max(0, bisect.bisect_right(times, answer.end) - 1)][1]

        phases: dict[str, PhaseFigures] = {}
        bounds = [*times, ended]
        for i, (_, name) in enumerate(self.marks):
            mine = [a for a in every if phase_of(a) == name]
            ok = [a for a in mine if a.complete and a.kind == "load"]
            failed = [a for a in mine if not a.complete]
            seconds = bounds[i + 1] - bounds[i]
            lat = percentiles([a.end - a.start for a in ok])
            phases[name] = PhaseFigures(
                seconds=round(seconds, 1),
                requests=len(mine),
                failed=len(failed),
                rps=round(len(ok) / seconds, 1) if seconds > 0 else 0.0,
                p50_ms=lat.get("p50"),
                p99_ms=lat.get("p99"),
                failures=sorted({a.error or "" for a in failed})[:5],
            )
        answered_ids = [a.request_id for a in every if a.complete and a.request_id]
        counts = Counter(request_id for request_id, _, _ in records)
        seen = set(answered_ids)
        rpm, budget = self.bursts.get("rpm", []), self.bursts.get("budget", [])
        return Report(
            concurrency=self.concurrency,
            seconds=round(ended - began, 1),
            phases=phases,
            events=self.events,
            answered=len(answered_ids),
            records=len(records),
            missing=[i for i in answered_ids if counts[i] == 0][:20],
            duplicated=[i for i in answered_ids if counts[i] > 1][:20],
            unanswered_records=sum(n for i, n in counts.items() if i not in seen),
            killed_sessions=self.killed_sessions,
            kill_failed_sent_after=sum(
                1 for a in every if phase_of(a) == "kill" and not a.complete and a.start > self.killed_at
            ),
            spool_replayed=_spool_replayed(self.stack.logs),
            slow=dict(
                Counter(f"{phase_of(a)}/{a.server}" for a in every if a.complete and a.end - a.start > SLOW)
            ),
            rpm_served=sum(1 for a in rpm if a.status == 200 and a.complete),
            rpm_statuses=dict(Counter(a.status for a in rpm)),
            budget_served=sum(1 for a in budget if a.status == 200 and a.complete),
            budget_statuses=dict(Counter(a.status for a in budget)),
            budget_spent_usd=round(sum(cost for _, member, cost in records if member == "budget"), 9),
            budget_usd=self.budget_usd,
            replicas=len(self.stack.routers),
            postgres_restart_s=round(self.pg_restart_s, 2),
        )


def _spool_replayed(logs: Path) -> int:
    """From the replicas' logs: records replayed from a usage spool into the database."""
    pattern = re.compile(r"usage spool \S+ replayed: \d+ records, (\d+) were not in the database")
    return sum(
        int(found.group(1))
        for log in logs.glob("r*.log")
        for found in pattern.finditer(log.read_text(errors="replace"))
    )


async def _records(stack: Stack) -> list[tuple[str, str | None, float]]:
    """Every usage record's request id, member and cost (one entry per row)."""
    import asyncpg

    assert stack.postgres is not None
    conn = await asyncpg.connect(host=HOST, port=stack.postgres.port, user="postgres", database="router")
    try:
        rows = await conn.fetch("SELECT request_id, member, cost_usd FROM usage_records")
    finally:
        await conn.close()
    return [(row["request_id"], row["member"], float(row["cost_usd"])) for row in rows]


def run_soak(workdir: Path, concurrency: int = CONCURRENCY, min_seconds: float = MIN_SECONDS) -> Report:
    """Bring the stack up in `workdir`, run the phases, tear it down; the report."""
    stack = Stack(workdir)
    try:
        stack.start()
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            return runner.run(Soak(stack, concurrency, min_seconds).run())
    finally:
        stack.close()


def verdicts(report: Report) -> dict[str, bool]:
    """What must hold (the test asserts the same, one by one)."""
    phases = report.phases
    no_fail = ("steady", "limits", "rolling", "postgres", "tail")
    return {
        "at least 60 s of load": report.seconds >= MIN_SECONDS,
        "no failed request outside the kill": all(phases[p].failed == 0 for p in no_fail if p in phases),
        "kill: at most the requests in flight failed": phases["kill"].failed <= report.concurrency,
        "every answered request has exactly one usage record": not report.missing and not report.duplicated,
        "records no client saw answered come from cut requests": report.unanswered_records
        <= phases["kill"].failed,
        f"rpm {RPM}: at most {RPM} served": 1 <= report.rpm_served <= RPM,
        "budget: at most 10 + replicas served": 1
        <= report.budget_served
        <= BUDGET_REQUESTS + report.replicas,
    }


def markdown(report: Report) -> str:
    lines = [
        "| phase | seconds | requests | req/s (answered) | p50 ms | p99 ms | failed |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f in report.phases.items():
        lines.append(
            f"| {name} | {f.seconds} | {f.requests:,} | {f.rps:,} | {f.p50_ms} | {f.p99_ms} | {f.failed} |"
        )
    lines += [
        "",
        f"c={report.concurrency}, {report.seconds} s of load; {report.answered:,} answered requests, "
        f"{report.records:,} usage records; answered without a record: {len(report.missing)}, with more than "
        f"one: {len(report.duplicated)}; records no client saw answered: {report.unanswered_records}; "
        f"sessions on the killed replica: {report.killed_sessions}; failed requests of the kill sent after "
        f"it: {report.kill_failed_sent_after}; records it had spooled but not written, "
        f"replayed on its restart: {report.spool_replayed}; PostgreSQL restart "
        f"{report.postgres_restart_s} s.",
        f"rpm {RPM}: {report.rpm_served} of {BURST} served ({report.rpm_statuses}); budget worth "
        f"{BUDGET_REQUESTS} requests (${report.budget_usd}): {report.budget_served} of {BURST} served "
        f"({report.budget_statuses}), ${report.budget_spent_usd} spent.",
        f"answers slower than {SLOW:.0f} s, by phase/replica: {report.slow}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--seconds", type=float, default=MIN_SECONDS, help="least seconds of load")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--workdir", type=Path, help="keep the logs and files here (default: a temp dir)")
    args = parser.parse_args()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        report = run_soak(args.workdir, args.concurrency, args.seconds)
    else:
        with tempfile.TemporaryDirectory(prefix="router-lb-soak-") as workdir:
            report = run_soak(Path(workdir), args.concurrency, args.seconds)
    print("\n".join(report.events))
    for name, figures in report.phases.items():
        if figures.failures:
            print(f"{name} failures: {figures.failures}")
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=2))
    results = verdicts(report)
    for name, ok in results.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main()
