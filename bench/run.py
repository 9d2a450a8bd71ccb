"""Benchmark the staff API's ticket lists and the admin's changelists at city scale: `make bench`, or

    .venv/bin/python bench/run.py [--tickets N | --quick] [--requests 200] [--warmup 20]
                                  [--only api|admin|ws|intake]

It uses its own database (DATABASE_URL with the name replaced by minhu_bench, created
when missing), generates the tickets once with tickets/datagen.py, the generator of
`manage.py generate_tickets` (reruns reuse them while the database holds at least N
with the usual share open; after bench/sla_sweep.py, which wants another split, they
are generated again), then prints each scenario's p50/p99 beside its target: the staff
API's lists, then the admin's changelists (bench/admin_lists.py).
It reports; it never fails on a figure (exit code 0 whether each scenario passes or misses).
The deadline sweep has its own benchmark on the same database: bench/sla_sweep.py.
`--only ws` runs the live-delivery benchmark instead (bench/ws.py, its own database);
`--only intake` the intake benchmark (bench/intake.py, SMS webhook and Open311 POST, its own
database).
"""

import argparse
import re
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import prepare  # noqa: E402

# Production serves collected static files; the API never touches them.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)


_rule = prepare.rule


def _measure(run, scenario, measured: dict):
    result = run(scenario, **measured)
    print(f"  {scenario.name:<52} p50 {result.p50:7.1f} ms  p99 {result.p99:7.1f} ms  "
          f"{result.verdict}", flush=True)
    return result


def _report(results: list, targets: str) -> None:
    """Print the figures beside their targets, then the plan of the slowest query."""
    from bench import api_lists

    if not results:
        return
    _rule(f"figures (targets: {targets})")
    width = max(len(r.scenario.name) for r in results)
    print(f"{'scenario':<{width}}  {'n':>4} {'rows':>4} {'SQL':>3} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'target':>9}  result")
    for r in results:
        print(f"{r.scenario.name:<{width}}  {len(r.samples_ms):>4} {r.rows:>4} {r.queries:>3} "
              f"{r.p50:>8.1f} {r.p99:>8.1f} {f'< {r.scenario.target_ms:.0f} ms':>9}  {r.verdict}")
        for error in r.errors[:2]:
            print(f"    error: {error}")
    print("(n: measured requests; rows: results on the page; SQL: queries per request)")

    # The slowest scenario's main query first, then any other scenario that missed.
    ranked = sorted((r for r in results if r.samples_ms), key=lambda r: r.p99, reverse=True)
    shown = [ranked[0]] + [r for r in ranked[1:] if r.verdict == "MISS"] if ranked else []
    for i, r in enumerate(shown):
        what = "the slowest scenario" if i == 0 else "another scenario that missed"
        _rule(f"plan (EXPLAIN, no ANALYZE) of {what}: {r.scenario.name}")
        if r.slowest_sql:
            print(f"its slowest query ({r.slowest_sql_ms:.1f} ms in the profiled request):")
            print(re.sub(r"^SELECT .*? FROM ", "SELECT ... FROM ", r.slowest_sql, count=1))
            print()
            for line in api_lists.explain(r.slowest_sql):
                print("  " + line)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000,
                        help="tickets to generate (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="100,000 tickets")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per scenario")
    parser.add_argument("--warmup", type=int, default=20,
                        help="unmeasured requests per scenario first")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds a scenario may take; slower ones make fewer requests")
    parser.add_argument("--regenerate", action="store_true",
                        help="generate even if enough tickets exist")
    parser.add_argument("--only", choices=["api", "admin", "ws", "intake"],
                        help="measure only the API's or only the admin's scenarios, or only "
                             "live delivery to WebSockets (bench/ws.py with its defaults), or "
                             "only intake (bench/intake.py with its defaults)")
    args = parser.parse_args(argv)
    if args.only == "ws":
        from bench import ws

        return ws.main([])
    if args.only == "intake":
        from bench import intake

        return intake.main([])
    n = 100_000 if args.quick else args.tickets

    _rule("setup")
    prepare.setup()

    from bench import admin_lists, api_lists
    from tickets import datagen

    _rule(f"data: {n:,} tickets")
    existing = datagen.ticket_count()
    made = datagen.dataset()
    # The deadline sweep's benchmark asks for another open/closed split on this database.
    other_shape = made is not None and made["open_tickets"] is not None
    # Tickets with no record of their generation come from an older generator, or from
    # a generation that did not finish.
    if existing >= n and made is not None and not args.regenerate and not other_shape:
        print(f"{existing:,} tickets already there: generation skipped (--regenerate to redo)")
    else:
        if other_shape:
            print(f"the {existing:,} tickets there have {made['open_tickets']:,} open by request "
                  f"(bench/sla_sweep.py's data set), not the usual share")
        print(f"{existing:,} tickets there; generating {n:,} (replacing them) ...")
        t = datagen.generate(n)
        print(
            f"generated {t['tickets']:,} tickets + {t['events']:,} events in {t['total']:.1f} s "
            f"= {(t['tickets'] + t['events']) / t['total']:,.0f} rows/s overall\n"
            f"  load {t['load']:.1f} s (tickets {t['t_tickets']:.1f} s = "
            f"{t['tickets'] / t['t_tickets']:,.0f}/s, "
            f"events {t['t_events']:.1f} s = {t['events'] / t['t_events']:,.0f}/s), "
            f"indexes {t['indexing']:.1f} s, vacuum+analyze+checkpoint {t['analyze']:.1f} s"
            + ("" if t["replica"] else "  [foreign-key triggers ran: not a superuser]")
        )
    shape = datagen.describe()
    total = sum(c for s, c in shape if not s.startswith("("))
    print("  " + ", ".join(
        f"{s} {c:,}" + ("" if s.startswith("(") else f" ({100 * c / total:.1f} %)")
        for s, c in shape
    ))

    measured = dict(requests=args.requests, warmup=args.warmup, budget=args.budget)
    if args.only in (None, "api"):
        _rule(f"API: {args.requests} requests per scenario after {args.warmup} warm-up, in process")
        scenarios = api_lists.build_scenarios(detail_numbers=api_lists.random_numbers(2000))
        results = [_measure(api_lists.run, scenario, measured) for scenario in scenarios]
        _report(results, "API list and detail p99 < 50 ms at 1 M tickets")

    if args.only in (None, "admin"):
        _rule(f"admin: {args.requests} requests per scenario after {args.warmup} warm-up, "
              f"in process")
        scenarios, notes = admin_lists.build_scenarios()
        for note in notes:
            print(f"  note: {note}")
        results = [_measure(admin_lists.run, scenario, measured) for scenario in scenarios]
        _report(results, "admin changelist and ticket page p99 < 150 ms at 1 M tickets")

    _rule("database size")
    for what, size in api_lists.database_size():
        print(f"  {what:<40} {size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
