"""The statistics and the archive at city scale: a year of a city's tickets (10 M by default).

    .venv/bin/python bench/stats.py [--tickets N] [--reads 40] [--warmup 5]
                                    [--searches 100] [--rebuild] [--regenerate]

Its own database (DATABASE_URL with the name replaced by minhu_bench_stats, created
when missing) and Redis database 14. In order:

1. data: `tickets/datagen.py` (the generator of `manage.py generate_tickets`), once;
   reruns reuse the tickets while the database holds N of them;
2. the rollups' rebuild (`rebuild_stats`): its time, its peak memory and the size of
   what it writes; skipped when the rollups already count every event (`--rebuild`
   to redo it);
3. the statistics, in process: each selector a page calls, then whole pages through
   Django's test client as a logged-in user gets them (session, scope, queries and
   HTML); target p99 < 200 ms;
4. the archive search, the whole `/desk/search/` page for each kind of term and
   user; target p99 < 300 ms.

It reports; it never fails on a figure (exit code 0 whether each scenario passes or misses).
"""

import argparse
import datetime as dt
import random
import resource
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import prepare

DATABASE = "minhu_bench_stats"
REDIS_URL = "redis://127.0.0.1:6379/14"
DASHBOARD_MS = 200.0
SEARCH_MS = 300.0
AT_RISK_TASK_MS = 10_000.0  # a third of the task's 30 s period


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def _timed(name: str, call, *, reads: int, warmup: int, target: float, results: list) -> None:
    """Call `call(rng)` warmup + reads times; print and keep p50/p99 of the measured calls."""
    rng = random.Random(7)
    for _ in range(warmup):
        call(rng)
    samples = []
    for _ in range(reads):
        started = time.perf_counter()
        call(rng)
        samples.append((time.perf_counter() - started) * 1000)
    p50, p99 = statistics.median(samples), _percentile(samples, 0.99)
    verdict = "PASS" if p99 < target else "MISS"
    results.append((name, len(samples), p50, p99, target, verdict))
    print(f"  {name:<60} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  {verdict}", flush=True)


def _table(results: list, title: str) -> None:
    prepare.rule(title)
    width = max(len(r[0]) for r in results)
    print(f"{'scenario':<{width}}  {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'target':>9}  result")
    for name, n, p50, p99, target, verdict in results:
        print(f"{name:<{width}}  {n:>4} {p50:>8.1f} {p99:>8.1f} {f'< {target:.0f} ms':>9}  {verdict}")


def _data(n: int, regenerate: bool) -> None:
    from tickets import datagen

    prepare.rule(f"data: {n:,} tickets")
    made = datagen.dataset()
    existing = datagen.ticket_count()
    if made is not None and existing == n and made["open_tickets"] is None and not regenerate:
        print(f"{existing:,} tickets already there: generation skipped (--regenerate to redo)")
        return
    print(f"{existing:,} tickets there; generating {n:,} (replacing them) ...", flush=True)
    t = datagen.generate(n, out=lambda line: print(line, flush=True))
    print(f"generated {t['tickets']:,} tickets + {t['events']:,} events in {t['total']:.1f} s "
          f"(load {t['load']:.1f} s, indexes {t['indexing']:.1f} s, vacuum+analyze {t['analyze']:.1f} s)")


def _sizes() -> list[tuple[str, int, str]]:
    from django.db import connection

    from feedback.models import StatsFact, StatsRollup

    rows = []
    with connection.cursor() as cursor:
        for model in (StatsFact, StatsRollup):
            table = model._meta.db_table
            cursor.execute("SELECT reltuples::bigint, pg_size_pretty(pg_total_relation_size(%s::regclass)) "
                           "FROM pg_class WHERE oid = %s::regclass", [table, table])
            estimate, size = cursor.fetchone()
            rows.append((table, estimate, size))
    return rows


def _rebuild(force: bool) -> None:
    from django.db import connection

    from feedback.models import StatsCursor
    from feedback.stats.rollup import stats_rebuild
    from tickets.models import TicketEvent

    prepare.rule("rollups: rebuild_stats")
    newest = TicketEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    cursor = StatsCursor.objects.filter(id=1).first()
    if cursor is not None and cursor.last_event_id == newest and cursor.fresh_at and not force:
        print(f"the rollups already count every event (to id {newest:,}): rebuild skipped (--rebuild to redo)")
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        last = [time.monotonic()]

        def out(line: str) -> None:
            if time.monotonic() - last[0] > 60:
                last[0] = time.monotonic()
                print(f"  {line}", flush=True)

        done = stats_rebuild(out=out)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"rebuilt in {done['seconds']:,.1f} s ({done['seconds'] / 60:.1f} min): {done['tickets']:,} tickets, "
              f"{done['facts']:,} facts, to event {done['last_event_id']:,}")
        print(f"  peak memory of this process {peak / 1024:,.0f} MiB (before the rebuild {before / 1024:,.0f} MiB)")
        with connection.cursor() as c:
            c.execute("ANALYZE feedback_statsfact")
            c.execute("ANALYZE feedback_statsrollup")
    for table, estimate, size in _sizes():
        print(f"  {table:<32} {estimate:>13,} rows  {size}")


def _users() -> dict:
    from django.contrib.auth import get_user_model

    from departments.models import Unit
    from departments.services import staff_upsert

    return {
        "centre": get_user_model().objects.get(username="dispatcher"),
        "supervisor": staff_upsert(username="bench-supervisor", unit=Unit.objects.get(code="wuchang"),
                                   role="supervisor"),
        "handler": staff_upsert(username="bench-handler", unit=Unit.objects.get(code="water-group"),
                                role="handler"),
    }


def _selectors(users: dict, *, reads: int, warmup: int) -> list:
    from departments.models import Category, Unit
    from feedback.stats import selectors as s
    from feedback.stats.tables import (
        at_risk_by_unit,
        categories_table,
        districts_table,
        ranking_table,
        units_table,
    )

    prepare.rule(f"statistics in process: {reads} reads each after {warmup} warm-up")
    today = s.today()
    year = s.Period(today - dt.timedelta(days=364), today)
    month = s.Period(today - dt.timedelta(days=29), today)
    centre, supervisor = users["centre"], users["supervisor"]
    city = s.stats_filters(user=centre)
    district = s.stats_filters(user=centre, unit=Unit.objects.get(code="wuchang"))
    group = s.stats_filters(user=centre, category=Category.objects.filter(parent__isnull=True).first())
    results: list = []

    def add(name, call):
        _timed(name, call, reads=reads, warmup=warmup, target=DASHBOARD_MS, results=results)

    def fresh(user):
        user.__dict__.pop("_minhu_scope", None)
        return user

    add("year, city: totals", lambda rng: s.stats_sums(period=year, filters=city))
    add("year, city: by unit (sums)", lambda rng: s.stats_sums(period=year, filters=city, by=s.BY_UNIT))
    add("year, city: by category (sums)", lambda rng: s.stats_sums(period=year, filters=city, by=s.BY_CATEGORY))
    add("year, city: by district (sums)", lambda rng: s.stats_sums(period=year, filters=city, by=s.BY_DISTRICT))
    add("year, a district's subtree: by category",
        lambda rng: s.stats_sums(period=year, filters=district, by=s.BY_CATEGORY))
    add("year, a category group: by unit", lambda rng: s.stats_sums(period=year, filters=group, by=s.BY_UNIT))
    add("year, city: units table (121 subtrees)",
        lambda rng: units_table(user=fresh(centre), period=year, filters=city))
    add("year, city: categories table", lambda rng: categories_table(period=year, filters=city))
    add("year, city: districts table", lambda rng: districts_table(period=year, filters=city))
    add("30 days, supervisor: units table",
        lambda rng: units_table(user=fresh(supervisor), period=month,
                                filters=s.stats_filters(user=fresh(supervisor))))
    add("month ranking (last whole month)",
        lambda rng: ranking_table(period=s.month_period(None), filters=city))

    # Not a page's work: the task that counts them every 30 s must finish well within its period.
    _timed("tickets at risk now, city: the task counting them", lambda rng: s.at_risk_count(),
           reads=min(reads, 10), warmup=1, target=AT_RISK_TASK_MS, results=results)
    add("tickets at risk now, as a page reads them", lambda rng: at_risk_by_unit(user=fresh(centre)))
    add("public page's figures (uncached)", lambda rng: s.public_figures())
    return results


def _pages(users: dict, *, reads: int, warmup: int) -> list:
    from django.core.cache import cache
    from django.test import Client

    from bench import admin_lists
    from departments.models import Unit
    from feedback.stats import selectors as s
    from feedback.stats.selectors import AT_RISK_KEY

    prepare.rule(f"statistics pages, whole requests: {reads} each after {warmup} warm-up")
    today = s.today()
    year = {"start": (today - dt.timedelta(days=364)).isoformat(), "end": today.isoformat()}
    clients = {}

    def client(role):
        if role not in clients:
            clients[role] = admin_lists.admin_client(users[role]) if role != "public" else Client()
        return clients[role]

    results: list = []

    def page(name, role, url, *, uncached=()):
        def call(rng):
            for key in uncached:
                cache.delete(key)
            response = client(role).get(url(rng) if callable(url) else url, HTTP_ACCEPT_LANGUAGE="zh-hans")
            if response.status_code != 200:
                raise RuntimeError(f"{name}: {response.status_code} {response.content[:300]!r}")

        with admin_lists.override_settings(STORAGES=admin_lists.PLAIN_STATIC):
            _timed(name, call, reads=reads, warmup=warmup, target=DASHBOARD_MS, results=results)

    dashboard = "/desk/stats/"
    units = list(Unit.objects.exclude(kind="centre").values_list("code", flat=True))
    page("centre: dashboard, last 30 days", "centre", dashboard)
    page("centre: dashboard, last 30 days, at-risk not yet counted", "centre", dashboard,
         uncached=(AT_RISK_KEY,))
    page("centre: dashboard, a year", "centre", f"{dashboard}?{urlencode(year)}")
    page("centre: dashboard, a year, one unit's subtree", "centre",
         lambda rng: f"{dashboard}?{urlencode({**year, 'unit': rng.choice(units)})}")
    page("supervisor (district): dashboard, a year", "supervisor", f"{dashboard}?{urlencode(year)}")
    page("handler (water group): dashboard, a year", "handler", f"{dashboard}?{urlencode(year)}")
    page("centre: drill-down, a year's late replies", "centre",
         f"{dashboard}tickets/?{urlencode({**year, 'measure': 'resolved_late'})}")
    page("centre: drill-down, a unit's year of returns, page 3", "centre",
         lambda rng: f"{dashboard}tickets/?{urlencode({**year, 'unit': rng.choice(units), 'measure': 'returned', 'page': 3})}")
    page("centre: monthly ranking", "centre", f"{dashboard}ranking/")
    page("public /stats/ (uncached)", "public", "/stats/", uncached=("stats-public",))
    page("public /stats/ (cached, as served)", "public", "/stats/")
    return results


def _search(users: dict, *, reads: int, warmup: int) -> list:
    from django.db import connection

    from bench import admin_lists, api_lists
    from tickets.datagen import PHRASES, ROADS

    prepare.rule(f"archive search, /desk/search/ whole pages: {reads} each after {warmup} warm-up")
    numbers = api_lists.random_numbers(500, seed=17)
    phrases = [p.split("，")[0] for p in PHRASES]
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM tickets_ticket")
        newest = cursor.fetchone()[0] or 1
        pick = random.Random(3)
        cursor.execute("SELECT reporter_phone FROM tickets_ticket WHERE id = ANY(%s) AND reporter_phone <> ''",
                       [[pick.randint(1, newest) for _ in range(2000)]])
        phones = [row[0] for row in cursor.fetchall()] or ["13800000000"]

    clients = {role: admin_lists.admin_client(user) for role, user in users.items()}
    results: list = []

    def road(rng):
        return f"{rng.choice(ROADS)}{rng.randint(1, 388)}号"

    def term(name, role, text, *, before=None):
        def call(rng):
            query = {"q": text(rng), **({"before": before(rng)} if before else {})}
            response = clients[role].get(f"/desk/search/?{urlencode(query)}", HTTP_ACCEPT_LANGUAGE="zh-hans")
            if response.status_code != 200:
                raise RuntimeError(f"{name}: {response.status_code} {response.content[:300]!r}")

        with admin_lists.override_settings(STORAGES=admin_lists.PLAIN_STATIC):
            _timed(name, call, reads=reads, warmup=warmup, target=SEARCH_MS, results=results)

    term("centre: ticket number", "centre", lambda rng: rng.choice(numbers))
    term("centre: phone", "centre", lambda rng: rng.choice(phones))
    term("centre: Chinese phrase (~1 in 30)", "centre", lambda rng: rng.choice(phrases))
    term("centre: road and house number (~1 in 8,000)", "centre", road)
    term("centre: two characters (停水)", "centre", lambda rng: "停水")
    term("handler (water group): phrase", "handler", lambda rng: rng.choice(phrases))
    term("handler (water group): road and number", "handler", road)
    term("supervisor (district): phrase", "supervisor", lambda rng: rng.choice(phrases))
    term("supervisor (district): road and number", "supervisor", road)
    term("centre: phrase, an older page (before=<any id>)", "centre", lambda rng: rng.choice(phrases),
         before=lambda rng: rng.randint(newest // 10, newest))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000_000, help="tickets (default 10,000,000)")
    parser.add_argument("--reads", type=int, default=40, help="measured reads per scenario")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured reads per scenario first")
    parser.add_argument("--searches", type=int, default=100, help="measured searches per kind of term")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the rollups even if they are current")
    parser.add_argument("--regenerate", action="store_true", help="generate even if the tickets are there")
    parser.add_argument("--database", default=DATABASE, help=f"the database's name (default {DATABASE})")
    parser.add_argument("--only", choices=["stats", "search"], help="measure only the statistics or the search")
    args = parser.parse_args(argv)

    import os

    prepare.rule("setup")
    url = prepare.bench_database_url(os.environ.get("DATABASE_URL"), args.database)
    created = prepare.ensure_database(url)
    print(f"database {url} ({'created' if created else 'exists'})")
    os.environ["REDIS_URL"] = REDIS_URL
    os.environ["ALLOWED_HOSTS"] = "testserver"
    prepare.configure_django(url)
    print(prepare.migrate_and_seed())
    _data(args.tickets, args.regenerate)
    _rebuild(args.rebuild or args.regenerate)
    users = _users()
    results = []
    if args.only in (None, "stats"):
        results += _selectors(users, reads=args.reads, warmup=args.warmup)
        results += _pages(users, reads=args.reads, warmup=args.warmup)
    if args.only in (None, "search"):
        results += _search(users, reads=args.searches, warmup=20)
    _table(results, f"figures at {args.tickets:,} tickets (dashboard p99 < {DASHBOARD_MS:.0f} ms, "
                    f"search p99 < {SEARCH_MS:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
