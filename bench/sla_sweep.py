"""Benchmark the deadline sweep (tickets.sla.sla_sweep) at city scale:

    .venv/bin/python bench/sla_sweep.py [--tickets N] [--repeat 5]

It uses bench/run.py's database (minhu_bench, created, migrated and seeded the same way;
tickets generated only while it holds fewer than N). The generator leaves next_check_at
empty, so each scenario sets it itself, inside a transaction that is rolled back: the
database is left as it was. Scenarios: nothing due (K = 0) and 1,000 open tickets due
(each gets exactly one red card). It reports; exit code 0 whether each passes or misses.
"""

import argparse
import datetime as dt
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import prepare  # noqa: E402

warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)


@dataclass
class Scenario:
    name: str
    due: int  # K: open tickets whose mark has come
    target_ms: float


@dataclass
class Result:
    scenario: Scenario
    samples_ms: list[float] = field(default_factory=list)
    cards: list[int] = field(default_factory=list)
    returned: list[int] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def worst(self) -> float:
        return max(self.samples_ms)

    @property
    def verdict(self) -> str:
        return "PASS" if self.worst < self.scenario.target_ms else "MISS"


SCENARIOS = [
    Scenario("nothing due", 0, 50.0),
    Scenario("1,000 due", 1000, 1000.0),
]


class _Rollback(Exception):
    """Raised to leave the scenario's transaction: nothing it did is kept."""


_rule = prepare.rule


# K open tickets spread over the table (a fixed pseudo-random order, not the oldest ids).
# Each gets one red card: claim for a dispatched ticket (its resolve clock still runs,
# ahead), resolve for one in progress. due_at/warn_at/next_check_at as the model keeps them.
MAKE_DUE_SQL = """
WITH pick AS (
    SELECT id FROM tickets_ticket
    WHERE state IN ('dispatched', 'in_progress')
    ORDER BY (id * 2654435761) %% 1000003
    LIMIT %(k)s
)
UPDATE tickets_ticket t SET
    claim_warn_at = CASE WHEN t.state = 'dispatched' THEN %(warn)s ELSE t.claim_warn_at END,
    claim_due_at = CASE WHEN t.state = 'dispatched' THEN %(due)s ELSE t.claim_due_at END,
    resolve_warn_at = CASE WHEN t.state = 'dispatched' THEN %(later_warn)s ELSE %(warn)s END,
    resolve_due_at = CASE WHEN t.state = 'dispatched' THEN %(later_due)s ELSE %(due)s END,
    warn_at = %(warn)s,
    due_at = %(due)s,
    next_check_at = %(warn)s
FROM pick WHERE t.id = pick.id
"""


def _prepare_due(k: int, now: dt.datetime) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        # "All tickets NULL": only the rows that are not NULL need writing.
        cursor.execute("UPDATE tickets_ticket SET next_check_at = NULL "
                       "WHERE next_check_at IS NOT NULL")
        if not k:
            return 0
        cursor.execute(MAKE_DUE_SQL, {
            "k": k,
            "warn": now - dt.timedelta(hours=2), "due": now - dt.timedelta(hours=1),
            "later_warn": now + dt.timedelta(days=1), "later_due": now + dt.timedelta(days=2),
        })
        return cursor.rowcount


def _kind(sql: str) -> str:
    head = sql.lstrip().split(None, 2)
    word = head[0].upper() if head else "?"
    if word == "SELECT" and "deadlinealert" not in sql.lower() and "FOR UPDATE" in sql:
        return "SELECT ... FOR UPDATE (batch)"
    if word == "SELECT":
        return "SELECT " + sql.split(" FROM ", 1)[1].split()[0].strip('"') if " FROM " in sql \
            else "SELECT"
    if word in {"INSERT", "UPDATE"}:
        table = sql.split()[2].strip('"') if word == "INSERT" else sql.split()[1].strip('"')
        return f"{word} {table}"
    return word  # SAVEPOINT, RELEASE, ROLLBACK


def run_once(scenario: Scenario) -> tuple[float, int, int, int, list[str]]:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tickets.models import DeadlineAlert
    from tickets.sla import sla_sweep

    out = {}
    try:
        with transaction.atomic():
            prepared = _prepare_due(scenario.due, timezone.now())
            before = DeadlineAlert.objects.count()
            # The log keeps the last 9,000 queries only: start empty, or the count is off.
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                returned = sla_sweep(now=timezone.now())
                elapsed = (time.perf_counter() - t0) * 1000
            out = dict(
                ms=elapsed, cards=DeadlineAlert.objects.count() - before, returned=returned,
                queries=len(ctx.captured_queries),
                sqls=[q["sql"] for q in ctx.captured_queries], prepared=prepared,
            )
            raise _Rollback
    except _Rollback:
        pass
    if out["prepared"] != scenario.due:
        print(f"    note: only {out['prepared']} open tickets could be made due")
    return out["ms"], out["cards"], out["returned"], out["queries"], out["sqls"]


def explain_sweep_query() -> list[str]:
    from django.db import connection
    from django.utils import timezone

    from tickets.models import Ticket

    qs = (Ticket.objects.filter(next_check_at__lte=timezone.now())
          .order_by("next_check_at")[:500])
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql} FOR UPDATE OF tickets_ticket SKIP LOCKED", params)
        return [row[0] for row in cursor.fetchall()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000,
                        help="tickets the database must hold (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed sweeps per scenario")
    args = parser.parse_args(argv)
    n = args.tickets

    _rule("setup")
    prepare.setup()

    from django.db import connection

    from bench import generate
    from tickets.models import OPEN_STATES

    _rule(f"data: {n:,} tickets")
    existing = generate.ticket_count()
    if existing >= n:
        print(f"{existing:,} tickets already there: generation skipped")
    else:
        print(f"{existing:,} tickets there; generating {n:,} (replacing them) ...")
        t = generate.generate(n)
        print(f"generated {t['tickets']:,} tickets + {t['events']:,} events in {t['total']:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE state = ANY(%s)), "
            "count(*) FILTER (WHERE NOT state = ANY(%s)), "
            "count(*) FILTER (WHERE state IN ('dispatched', 'in_progress')), "
            "count(next_check_at) FROM tickets_ticket",
            [list(map(str, OPEN_STATES))] * 2,
        )
        open_, closed, running, marked = cursor.fetchone()
    print(f"  open {open_:,} (of which dispatched/in progress {running:,}), "
          f"closed/archived/rejected/merged {closed:,}; next_check_at set on {marked:,}")

    _rule(f"sla_sweep: {args.repeat} timed calls per scenario, each in a rolled-back transaction")
    results = []
    for scenario in SCENARIOS:
        result = Result(scenario)
        for i in range(args.repeat):
            ms, cards, returned, queries, sqls = run_once(scenario)
            result.samples_ms.append(ms)
            result.cards.append(cards)
            result.returned.append(returned)
            result.queries.append(queries)
            if i == 0:
                for sql in sqls:
                    k = _kind(sql)
                    result.by_kind[k] = result.by_kind.get(k, 0) + 1
            print(f"  {scenario.name:<12} run {i + 1}: {ms:8.1f} ms  cards {cards}  "
                  f"(returned {returned})  queries {queries}", flush=True)
        results.append(result)

    _rule("figures")
    print(f"{'scenario':<12} {'median ms':>10} {'max ms':>9} {'cards':>6} {'queries':>8} "
          f"{'target':>9}  result")
    for r in results:
        cards = "/".join(sorted({str(c) for c in r.cards}))
        queries = "/".join(sorted({str(q) for q in r.queries}))
        print(f"{r.scenario.name:<12} {r.median:>10.1f} {r.worst:>9.1f} {cards:>6} {queries:>8} "
              f"{f'< {r.scenario.target_ms:.0f} ms':>9}  {r.verdict}")
    print("(median and max over the runs; cards: DeadlineAlert rows created per sweep; "
          "queries: SQL per sweep,\n incl. SAVEPOINT/RELEASE, which the rolled-back outer "
          "transaction adds for each batch)")

    for r in results:
        if r.scenario.due:
            per = {k: v for k, v in sorted(r.by_kind.items(), key=lambda kv: -kv[1])}
            print(f"\nqueries of one '{r.scenario.name}' sweep by kind "
                  f"({r.queries[0] / max(r.scenario.due, 1):.1f} a due ticket):")
            for k, v in per.items():
                print(f"  {v:>6}  {k}")

    _rule("plan (EXPLAIN, no ANALYZE) of the sweep's batch query, nothing due")
    for line in explain_sweep_query():
        print("  " + line)
    return 0


if __name__ == "__main__":
    main()
    sys.exit(0)
