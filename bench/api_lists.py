"""The staff API's ticket lists and detail, measured in process with DRF's test client.

Each scenario makes `warmup` unmeasured requests, then up to `requests` measured ones
(fewer when a scenario is so slow that they would take longer than `budget` seconds),
and reports p50/p99 of the whole request: middleware, view, queries, serialisation, JSON.

The user's scope is computed afresh for every request, as it is in production (the
scope is cached on the user object, which force_authenticate would otherwise reuse).
Token authentication would add one indexed query per request (~0.3 ms); it is left out.
"""

import datetime as dt
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tickets.datagen import PHRASES, ROADS

TARGET_MS = 50.0  # API list and detail p99 at 1 M tickets (performance notes, issues)
LIST = "/api/v1/tickets/"


@dataclass
class Scenario:
    name: str
    user: object
    # Called with the scenario's random generator for each sample; returns the URL to
    # get (for a walk, the unmeasured first page whose `next` links are followed).
    url: Callable[[random.Random], str]
    walk: int = 0  # follow `next` this many pages; each followed page is one sample
    target_ms: float = TARGET_MS


@dataclass
class Result:
    scenario: Scenario
    samples_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rows: int = 0
    queries: int = 0
    slowest_sql: str = ""
    slowest_sql_ms: float = 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms) if self.samples_ms else float("nan")

    @property
    def p99(self) -> float:
        if not self.samples_ms:
            return float("nan")
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]

    @property
    def verdict(self) -> str:
        if self.errors or not self.samples_ms:
            return "ERROR"
        return "PASS" if self.p99 < self.scenario.target_ms else "MISS"


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _rows(response) -> int:
    body = response.json()
    return len(body["results"]) if "results" in body else 1


def _get(client, user, url: str):
    user.__dict__.pop("_minhu_scope", None)  # a fresh scope per request, as with token auth
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    return response, elapsed


def _one(client, scenario: Scenario, rng: random.Random, result: Result | None):
    """Make one sample (or one walk of samples); record into result when given."""
    response, elapsed = _get(client, scenario.user, scenario.url(rng))
    if response.status_code != 200:
        if result is not None:
            result.errors.append(f"{response.status_code} {response.content[:200]!r}")
        return
    if not scenario.walk:
        if result is not None:
            result.samples_ms.append(elapsed)
        return
    for _ in range(scenario.walk):
        next_url = response.json().get("next")
        if not next_url:
            if result is not None:
                result.errors.append("no next page")
            return
        response, elapsed = _get(client, scenario.user, next_url)
        if response.status_code != 200:
            if result is not None:
                result.errors.append(f"{response.status_code} {response.content[:200]!r}")
            return
        if result is not None:
            result.samples_ms.append(elapsed)


def _profile(client, scenario: Scenario, rng: random.Random, result: Result, rows) -> None:
    """One extra request under CaptureQueriesContext: query count and the slowest query."""
    url = scenario.url(rng)
    if scenario.walk:
        response, _ = _get(client, scenario.user, url)
        for _ in range(scenario.walk):
            url = response.json().get("next") or url
            response, _ = _get(client, scenario.user, url)
    with CaptureQueriesContext(connection) as ctx:
        response, _ = _get(client, scenario.user, url)
    if response.status_code == 200:
        result.rows = rows(response)
    result.queries = len(ctx.captured_queries)
    if ctx.captured_queries:
        slowest = max(ctx.captured_queries, key=lambda q: float(q["time"]))
        result.slowest_sql, result.slowest_sql_ms = slowest["sql"], float(slowest["time"]) * 1000


def run(scenario: Scenario, *, requests: int, warmup: int, budget: float, seed: int = 1,
        client_for: Callable = _client, rows: Callable = _rows) -> Result:
    """Measure one scenario; `client_for(user)` gives the client, `rows(response)` counts results."""
    rng = random.Random(seed)
    client = client_for(scenario.user)
    result = Result(scenario)
    started = time.perf_counter()
    for _ in range(warmup):
        _one(client, scenario, rng, None)
    per_sample = (time.perf_counter() - started) / max(1, warmup * max(1, scenario.walk))
    wanted = requests
    if per_sample * requests > budget:
        wanted = max(20, int(budget / per_sample))
    while len(result.samples_ms) < wanted and len(result.errors) < 5:
        _one(client, scenario, rng, result)
    _profile(client, scenario, rng, result, rows)
    return result


def _address(rng: random.Random) -> str:
    return f"{ROADS[rng.randrange(len(ROADS))]}{rng.randint(1, 388)}号"


def _window(rng: random.Random) -> str:
    from django.utils import timezone

    end = timezone.localtime() - dt.timedelta(days=rng.randint(30, 330))
    start = end - dt.timedelta(days=10)
    window = {"reported_after": start.isoformat(), "reported_before": end.isoformat()}
    return f"{LIST}?{urlencode(window)}"


def build_scenarios(*, detail_numbers: list[str]) -> list[Scenario]:
    from departments.models import Category, Unit
    from departments.services import staff_upsert

    User = get_user_model()
    dispatcher = User.objects.get(username="dispatcher")
    handler = staff_upsert(
        username="bench-handler", unit=Unit.objects.get(code="water-group"), role="handler"
    )
    supervisor = staff_upsert(
        username="bench-supervisor", unit=Unit.objects.get(code="wuchang"), role="supervisor"
    )
    leaves = list(
        Category.objects.filter(parent__isnull=False, children__isnull=True)
        .order_by("code").values_list("code", flat=True)
    )
    # Whole phrases and parts of them, each matching about 1/30 of the tickets.
    phrases = [p.split("，")[0] for p in PHRASES]

    def pick(items):
        return lambda rng: items[rng.randrange(len(items))]

    def fixed(url):
        return lambda rng: url

    number = pick(detail_numbers)
    return [
        Scenario("dispatcher: list, first page", dispatcher, fixed(LIST)),
        Scenario("dispatcher: state=reported,accepted", dispatcher,
                 fixed(f"{LIST}?state=reported,accepted")),
        Scenario("dispatcher: sla=breached", dispatcher, fixed(f"{LIST}?sla=breached")),
        Scenario("dispatcher: category=<leaf>&state=dispatched", dispatcher,
                 lambda rng: f"{LIST}?category={pick(leaves)(rng)}&state=dispatched"),
        Scenario("dispatcher: list, next x5 (each page)", dispatcher, fixed(LIST), walk=5),
        Scenario("dispatcher: q=<ticket number>", dispatcher,
                 lambda rng: f"{LIST}?q={number(rng)}"),
        Scenario("dispatcher: q=<Chinese phrase>", dispatcher,
                 lambda rng: f"{LIST}?{urlencode({'q': pick(phrases)(rng)})}"),
        Scenario("handler water-group: list", handler, fixed(LIST)),
        Scenario("handler water-group: state=dispatched,in_progress", handler,
                 fixed(f"{LIST}?state=dispatched,in_progress")),
        Scenario("supervisor wuchang (subtree): list", supervisor, fixed(LIST)),
        Scenario("dispatcher: detail /tickets/{number}/", dispatcher,
                 lambda rng: f"{LIST}{number(rng)}/"),
        # Beyond the brief's list: a rare search term (a street address, ~1 in 8,000
        # tickets), the case where a full scan shows.
        Scenario("extra: dispatcher q=<road+number>", dispatcher,
                 lambda rng: f"{LIST}?{urlencode({'q': _address(rng)})}"),
        # ... and a report-date window months back (a monthly review), which the
        # newest-first pages reach only after skipping every newer ticket.
        Scenario("extra: dispatcher reported_after/before, 10 days", dispatcher, _window),
    ]


def random_numbers(count: int, seed: int = 7) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM tickets_ticket")
        lo, hi = cursor.fetchone()
        rng = random.Random(seed)
        ids = [rng.randint(lo, hi) for _ in range(count)]
        cursor.execute("SELECT number FROM tickets_ticket WHERE id = ANY(%s)", [ids])
        return [row[0] for row in cursor.fetchall()]


def explain(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        return [row[0] for row in cursor.fetchall()]


def database_size() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT 'database ' || current_database(),
                   pg_size_pretty(pg_database_size(current_database()))
            UNION ALL
            SELECT 'tickets_ticket (heap / indexes)',
                   pg_size_pretty(pg_table_size('tickets_ticket')) || ' / '
                   || pg_size_pretty(pg_indexes_size('tickets_ticket'))
            UNION ALL
            SELECT 'tickets_ticketevent (heap / indexes)',
                   pg_size_pretty(pg_table_size('tickets_ticketevent')) || ' / '
                   || pg_size_pretty(pg_indexes_size('tickets_ticketevent'))
            """
        )
        return cursor.fetchall()
