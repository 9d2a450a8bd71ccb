"""The admin's ticket changelists and ticket page, measured in process with Django's test client.

Each request goes through the whole stack a browser's would: the session and
authentication middleware (force_login stores a real session, read back on every
request), the admin's permission checks, the user's scope computed afresh, the
changelist's queries (its capped count included) and the HTML rendered. Sampling,
warm-up and percentiles are bench/api_lists.py's.

The admin is still growing: each scenario names the filter it needs, and the query
parameters are read from TicketAdmin as it stands (its list_filter and search
fields). A scenario whose filter the admin does not offer is skipped with a note.
"""

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse

from bench import api_lists
from bench.api_lists import Result, Scenario

TARGET_MS = 150.0  # admin changelist and ticket page p99 at 1 M tickets
_TBODY = re.compile(rb"<tbody>(.*?)</tbody>", re.S)

# Production serves collected, hashed static files through a manifest (a dict lookup);
# the benchmark has no collectstatic, so it renders with plain storage.
PLAIN_STATIC = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@dataclass
class Wanted:
    """A scenario and the admin filters (or "search") it needs."""

    scenario: Scenario
    needs: tuple[str, ...] = ()


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def table_rows(response) -> int:
    """The rows of the page's first table: a changelist's tickets, a ticket page's history."""
    body = _TBODY.search(response.content)
    return body.group(1).count(b"<tr") if body else 1


def filter_parameters() -> dict[str, str]:
    """Map each filter of TicketAdmin to its query parameter, as the admin names it.

    A field listed by name takes Django's own parameter (`state__exact`,
    `category__id__exact`); a filter class its `parameter_name`. "search" maps to `q`
    when the admin has search fields.
    """
    from tickets.models import Ticket

    model_admin = admin.site._registry[Ticket]
    found = {"search": "q"} if model_admin.search_fields else {}
    for spec in model_admin.list_filter:
        if isinstance(spec, (tuple, list)):
            spec = spec[0]
        if isinstance(spec, str):
            field = Ticket._meta.get_field(spec)
            target = f"__{field.target_field.name}" if field.is_relation else ""
            found[spec] = f"{spec}{target}__exact"
        else:
            found[spec.parameter_name] = spec.parameter_name
    return found


def _sample_ids(count: int, unit_code: str | None = None, seed: int = 11) -> list[int]:
    """Ids spread over the table (or over one unit's tickets), from random starting points."""
    with connection.cursor() as cursor:
        unit_id = None
        if unit_code:
            cursor.execute("SELECT id FROM departments_unit WHERE code = %s", [unit_code])
            unit_id = cursor.fetchone()[0]
        cursor.execute("SELECT min(id), max(id) FROM tickets_ticket")
        lo, hi = cursor.fetchone()
        rng, ids = random.Random(seed), []
        mine = " AND unit_id = %s" if unit_id else ""
        for _ in range(count):
            cursor.execute(f"SELECT id FROM tickets_ticket WHERE id <= %s{mine} ORDER BY id DESC LIMIT 1",
                           [rng.randint(lo, hi), *([unit_id] if unit_id else [])])
            row = cursor.fetchone()
            if row:
                ids.append(row[0])
        return ids or [hi]


def build_scenarios() -> tuple[list[Scenario], list[str]]:
    """Return the scenarios the admin can serve now, and a note for each one skipped."""
    from departments.models import Category, Unit
    from departments.services import staff_upsert

    dispatcher = get_user_model().objects.get(username="dispatcher")
    handler = staff_upsert(
        username="bench-handler", unit=Unit.objects.get(code="water-group"), role="handler"
    )
    params = filter_parameters()
    changelist = reverse("admin:tickets_ticket_changelist")
    leaves = list(
        Category.objects.filter(parent__isnull=False, children__isnull=True)
        .order_by("code").values_list("id", flat=True)
    )
    numbers = api_lists.random_numbers(500, seed=13)
    handler_tickets = _sample_ids(500, "water-group")
    any_tickets = _sample_ids(500)

    def query(**values) -> str:
        return changelist + "?" + "&".join(f"{params[k]}={v}" for k, v in values.items())

    def pick(items: list) -> Callable[[random.Random], object]:
        return lambda rng: items[rng.randrange(len(items))]

    def page(ids: list[int]) -> Callable[[random.Random], str]:
        return lambda rng: reverse("admin:tickets_ticket_change", args=[pick(ids)(rng)])

    def fixed(url_or_query) -> Callable[[random.Random], str]:
        return lambda rng: url_or_query() if callable(url_or_query) else url_or_query

    def wanted(name: str, user, url: Callable, *needs: str) -> Wanted:
        return Wanted(Scenario(name, user, url, target_ms=TARGET_MS), needs)

    leaf = pick(leaves)
    number = pick(numbers)
    plan = [
        wanted("handler water-group: changelist (their queue)", handler, fixed(changelist)),
        wanted("handler water-group: state=in_progress", handler,
               fixed(lambda: query(state="in_progress")), "state"),
        wanted("dispatcher: changelist, first page", dispatcher, fixed(changelist)),
        wanted("dispatcher: state=dispatched&category=<leaf>", dispatcher,
               lambda rng: query(state="dispatched", category=leaf(rng)), "state", "category"),
        wanted("dispatcher: sla=breached", dispatcher, fixed(lambda: query(sla="breached")), "sla"),
        wanted("dispatcher: overdue=listed", dispatcher,
               fixed(lambda: query(overdue="listed")), "overdue"),
        wanted("dispatcher: search <ticket number>", dispatcher,
               lambda rng: query(search=number(rng)), "search"),
        wanted("handler water-group: ticket page with history", handler, page(handler_tickets)),
        wanted("dispatcher: ticket page with history", dispatcher, page(any_tickets)),
    ]
    scenarios, notes = [], []
    for item in plan:
        missing = [need for need in item.needs if need not in params]
        if missing:
            notes.append(f"skipped {item.scenario.name!r}: the admin has no "
                         f"{' or '.join(missing)} filter yet")
        else:
            scenarios.append(item.scenario)
    return scenarios, notes


def run(scenario: Scenario, *, requests: int, warmup: int, budget: float) -> Result:
    with override_settings(STORAGES=PLAIN_STATIC):
        return api_lists.run(scenario, requests=requests, warmup=warmup, budget=budget,
                             client_for=admin_client, rows=table_rows)
