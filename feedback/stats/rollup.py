"""Keeping the statistics' rollups up to date from the event log, and rebuilding them.

The transitions write nothing for the statistics: a Celery beat task
(`stats_catch_up_task`, every STATS_PERIOD seconds) reads the events committed since
its last run, folds each touched ticket's history (feedback.stats.facts) and, in one
transaction with the cursor that says how far it read, appends the facts and adds
them to the rollups with one upsert per table. Intake and every transition stay as
cheap as before; the figures lag by the task's period.

Reading by id needs care: an id is taken when an event is written but seen only when
its transaction commits, so a run can see event 101 while 100 is still being written.
The cursor keeps such skipped ids as gaps and looks for them at every run for
GAP_SECONDS before giving them up (an id whose transaction rolled back never shows).
A ticket's own events are written under its row lock, so when one of them is seen,
every earlier one of the same ticket is too: a fold never lacks a ticket's past.
"""

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from departments.models import Category, Unit, UnitKind
from feedback.models import (
    ANY,
    BUCKET_HOURS,
    COUNTERS,
    HANDLED_BUCKETS,
    NO_UNIT,
    Grain,
    Measure,
    StatsCursor,
    StatsFact,
    StatsRollup,
)
from feedback.stats.facts import (
    PAYLOAD_KEYS,
    EventRow,
    Fact,
    TicketNow,
    bucket_of,
    facts_of,
)
from tickets.models import Ticket, TicketEvent

logger = logging.getLogger(__name__)

BATCH = 2000
# No transaction that writes events stays open this long (the deadline sweep's batch,
# the longest, takes about a second); an id missing for longer was rolled back.
GAP_SECONDS = 600
MAX_GAPS = 50_000
# How far below the newest id read a missing id may still be in an open transaction.
GAP_SPAN = 10_000
# Tickets folded per round of a rebuild.
REBUILD_TICKETS = 5000
# The newest event ids a rebuild leaves for the periodic task to look at again.
REBUILD_WINDOW = 5000

# Which counter of a rollup row each measure adds to (HANDLED adds to three, KEPT to two:
# see count_facts).
COUNTED = {
    Measure.REPORTED: "reported", Measure.REJECTED: "rejected", Measure.MERGED: "merged",
    Measure.RECEIVED: "received", Measure.CLAIMED_ON_TIME: "claimed_on_time",
    Measure.CLAIMED_LATE: "claimed_late", Measure.RESOLVED_ON_TIME: "resolved_on_time",
    Measure.RESOLVED_LATE: "resolved_late", Measure.HANDLED: "handled", Measure.RETURNED: "returned",
    Measure.KEPT: "kept", Measure.SENT_BACK: "sent_back", Measure.SATISFIED: "satisfied",
    Measure.BASICALLY_SATISFIED: "basically_satisfied", Measure.REOPENED: "reopened",
    Measure.EXPIRED: "expired", Measure.CLOSED: "closed",
}
_COLUMN = {name: index for index, name in enumerate(COUNTERS)}


def unit_districts() -> dict[int, int]:
    """Return each unit's district: itself for a district, its nearest district ancestor, or NO_UNIT."""
    units = {u["id"]: u for u in Unit.objects.values("id", "parent_id", "kind")}
    districts = {}
    for unit_id in units:
        unit = units.get(unit_id)
        while unit is not None and unit["kind"] != UnitKind.DISTRICT:
            unit = units.get(unit["parent_id"])
        districts[unit_id] = unit["id"] if unit is not None else NO_UNIT
    return districts


def category_ids() -> dict[str, int]:
    return dict(Category.objects.values_list("code", "id"))


def _fold_tickets(ticket_ids: Iterable[int], *, wanted, categories, districts) -> list[Fact]:
    """Fold the tickets' whole histories; return the facts of the events `wanted(event_id)` accepts.

    One statement reads the events with their ticket's columns, so the ticket's present
    category and deadlines match the events read (both from one snapshot).
    """
    pairs = _histories(list(ticket_ids))
    return [f for f in facts_of(pairs, categories=categories, districts=districts) if wanted(f.event_id)]


def _histories(ticket_ids: list[int]) -> Iterable[tuple[EventRow, TicketNow]]:
    """The tickets' events in order, each with its ticket's columns of now.

    On PostgreSQL only the payload's keys the fold looks at are read, and times as
    seconds: a rebuild reads tens of millions of events, and parsing their JSON and
    timestamps was most of its time.
    """
    if connection.vendor != "postgresql":  # the embedded demo
        rows = (
            TicketEvent.objects.filter(ticket_id__in=ticket_ids).order_by("ticket_id", "id")
            .values_list("id", "ticket_id", "kind", "unit_id", "payload", "at", "ticket__category_id",
                         "ticket__claim_due_at", "ticket__resolve_due_at", "ticket__rating")
        )
        return (
            (EventRow(id=r[0], ticket_id=r[1], kind=r[2], unit_id=r[3], payload=r[4] or {}, at=r[5]),
             TicketNow(category_id=r[6], claim_due_at=r[7], resolve_due_at=r[8], rating=r[9]))
            for r in rows.iterator(chunk_size=5000)
        )
    keys = ", ".join(f"e.payload ->> '{key}'" for key in PAYLOAD_KEYS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e.id, e.ticket_id, e.kind, e.unit_id, {keys}, extract(epoch FROM e.at)::float8,"
            " t.category_id, extract(epoch FROM t.claim_due_at)::float8,"
            " extract(epoch FROM t.resolve_due_at)::float8, t.rating"
            f" FROM {TicketEvent._meta.db_table} e JOIN {Ticket._meta.db_table} t ON t.id = e.ticket_id"
            " WHERE e.ticket_id = ANY(%s) ORDER BY e.ticket_id, e.id",
            [ticket_ids],
        )
        rows = cursor.fetchall()
    utc, stamp, payload_at = dt.timezone.utc, dt.datetime.fromtimestamp, slice(4, 4 + len(PAYLOAD_KEYS))
    return (
        (EventRow(id=r[0], ticket_id=r[1], kind=r[2], unit_id=r[3],
                  payload={key: value for key, value in zip(PAYLOAD_KEYS, r[payload_at]) if value is not None},
                  at=stamp(r[10], utc)),
         TicketNow(category_id=r[11], claim_due_at=None if r[12] is None else stamp(r[12], utc),
                   resolve_due_at=None if r[13] is None else stamp(r[13], utc), rating=r[14]))
        for r in rows
    )


def stats_catch_up(*, batch: int = BATCH, max_batches: int = 50, now: dt.datetime | None = None) -> int:
    """Count the events committed since the last run; return how many events were read.

    Safe to run twice at once: the cursor row is locked for each batch, and a run that
    finds it locked leaves the work to the one holding it.
    """
    read = 0
    _cursor_row()
    for _ in range(max_batches):
        with transaction.atomic():
            cursor = StatsCursor.objects.select_for_update(skip_locked=True).filter(id=1).first()
            if cursor is None:
                return read  # another run holds the cursor
            started = now or timezone.now()
            count, is_done = _count_batch(cursor, batch=batch, now=started)
            read += count
            if is_done:
                cursor.fresh_at = started
            cursor.save()
        if is_done:
            break
    return read


def _cursor_row() -> None:
    """Make the cursor on first use (a flushed or restored database gets it back by itself).

    With events already there it starts from the first, so the history is counted; with
    none, after the last id ever taken, so ids of events since deleted (a test database
    flushed) are not looked for.
    """
    if StatsCursor.objects.filter(id=1).exists():
        return
    start = 0
    if connection.vendor == "postgresql" and not TicketEvent.objects.exists():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT last_value FROM pg_sequences WHERE schemaname = current_schema() AND sequencename = "
                "substring(pg_get_serial_sequence(%s, 'id') from '[^.]+$')",
                [TicketEvent._meta.db_table],
            )
            row = cursor.fetchone()
            start = (row[0] or 0) if row else 0
    StatsCursor.objects.get_or_create(id=1, defaults={"last_event_id": start})


def _count_batch(cursor: StatsCursor, *, batch: int, now: dt.datetime) -> tuple[int, bool]:
    """Read one batch past the cursor (and its gaps), count it, move the cursor; return (read, done)."""
    epoch = now.timestamp()
    gaps = {int(i): seen for i, seen in cursor.gaps.items() if epoch - seen < GAP_SECONDS}
    found = dict(TicketEvent.objects.filter(id__in=list(gaps)).values_list("id", "ticket_id")) if gaps else {}
    newer = list(
        TicketEvent.objects.filter(id__gt=cursor.last_event_id).order_by("id")
        .values_list("id", "ticket_id")[:batch]
    )
    ids = {**found, **dict(newer)}
    if newer:
        seen = {event_id for event_id, _ticket in newer}
        # A transaction still open holds an id close to the newest: further below, a
        # missing id was rolled back long ago (or the history is being read from the start).
        lowest = max(cursor.last_event_id + 1, newer[-1][0] - GAP_SPAN)
        for missing in range(lowest, newer[-1][0]):
            if missing not in seen:
                gaps[missing] = epoch
        cursor.last_event_id = newer[-1][0]
    for event_id in found:
        gaps.pop(event_id, None)
    if len(gaps) > MAX_GAPS:
        logger.warning("Statistics: %d event ids missing; the oldest are given up.", len(gaps))
        gaps = dict(sorted(gaps.items())[-MAX_GAPS:])
    cursor.gaps = {str(i): seen for i, seen in gaps.items()}
    if ids:
        facts = _fold_tickets(set(ids.values()), wanted=ids.__contains__,
                              categories=category_ids(), districts=unit_districts())
        count_facts(facts)
    return len(ids), len(newer) < batch


def count_facts(facts: list[Fact]) -> None:
    """Append the facts and add them to the rollups (each key once, by one upsert per table)."""
    if not facts:
        return
    _insert_facts(facts)
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(COUNTERS))
    for fact in facts:
        additions = [(_COLUMN[COUNTED[fact.measure]], 1)]
        if fact.measure == Measure.HANDLED:
            additions.append((_COLUMN["handling_seconds"], fact.value))
            additions.append((_COLUMN[HANDLED_BUCKETS[bucket_of(fact.value)]], 1))
        elif fact.measure == Measure.KEPT:
            additions.append((_COLUMN["bounces"], fact.value))
            if fact.value:
                additions.append((_COLUMN["kept_bounced"], 1))
        elif fact.measure == Measure.CLOSED and fact.value:
            additions.append((_COLUMN["closed_reopened"], 1))
        for key in rollup_keys(fact):
            row = sums[key]
            for column, amount in additions:
                row[column] += amount
    _upsert(StatsRollup, ("grain", "start", "unit_id", "category_id", "district_id"), COUNTERS,
            [(*key, *row) for key, row in sums.items()], conflict=("grain", "start", "unit_id", "category_id"))


def rollup_keys(fact: Fact) -> list[tuple]:
    """Return the rollup rows a fact counts in: day and month, each with its unit/category and their ANY rows."""
    month = fact.day.replace(day=1)
    keys = []
    for grain, start in ((Grain.DAY, fact.day), (Grain.MONTH, month)):
        keys += [
            (grain.value, start, fact.unit_id, fact.category_id, fact.district_id),
            (grain.value, start, fact.unit_id, ANY, fact.district_id),
            (grain.value, start, ANY, fact.category_id, ANY),
            (grain.value, start, ANY, ANY, ANY),
        ]
    return keys


_FACT_COLUMNS = ("ticket_id", "event_id", "day", "unit_id", "category_id", "district_id", "measure", "value")


def _insert_facts(facts: list[Fact]) -> None:
    if connection.vendor != "postgresql":  # the embedded demo
        StatsFact.objects.bulk_create(
            [StatsFact(**{c: getattr(f, c) for c in _FACT_COLUMNS}) for f in facts], batch_size=2000
        )
        return
    # COPY: a rebuild writes millions of facts, and an INSERT of thousands of rows costs
    # more to build and parse than to write.
    table = connection.ops.quote_name(StatsFact._meta.db_table)
    with connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY {table} ({', '.join(_FACT_COLUMNS)}) FROM STDIN"
    ) as copy:
        for fact in facts:
            copy.write_row([getattr(fact, c) for c in _FACT_COLUMNS])


# PostgreSQL types of the rollups' columns, for the upsert's arrays.
_TYPES = {"grain": "text", "start": "date"}


def _upsert(model, key_columns: tuple, sum_columns: tuple, rows: list[tuple], *, conflict: tuple) -> None:
    """Insert the rows, or add their sums to the rows already there (PostgreSQL and SQLite alike)."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = (*key_columns, *sum_columns)
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in sum_columns)
    if not rows:
        return
    if connection.vendor == "postgresql":
        # One array per column, whatever the number of rows: one short statement to parse.
        types = [_TYPES.get(c, "integer" if c in key_columns else "bigint") for c in columns]
        arrays = ", ".join(f"%s::{t}[]" for t in types)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
                f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {added}",
                [list(column) for column in zip(*rows, strict=True)],
            )
        return
    # Under SQLite's limit of bound parameters, and PostgreSQL's.
    per_statement = max(1, 30000 // len(columns))
    with connection.cursor() as cursor:
        for offset in range(0, len(rows), per_statement):
            chunk = rows[offset:offset + per_statement]
            values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"
                f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {added}",
                [value for row in chunk for value in row],
            )


# What a rebuild's aggregations may hold in memory (PostgreSQL's work_mem), for this transaction only.
REBUILD_MEMORY = "512MB"


def _rollups_from_facts() -> None:
    """Sum every fact into the rollups in PostgreSQL: what count_facts adds, key by key, done at once.

    The facts are first summed per day, unit, category and district (a year of a city
    is some 67 M facts and at most 365 x 122 x 43 such rows); only those sums are spread
    over rollup_keys' eight row shapes (day and month, each with the unit/category
    rows and their ANY rows) and summed again. The SQL is made from COUNTED, the four
    shapes and BUCKET_HOURS, so it counts what count_facts counts (the property test
    compares the two).
    """
    # A day's count for one unit and category fits an integer, whose sum PostgreSQL adds
    # in a bigint; the sums of seconds and returns stay bigint.
    counters = []
    for name in COUNTERS:
        measures = [int(m) for m, counter in COUNTED.items() if counter == name]
        if measures:
            counters.append(f"(count(*) FILTER (WHERE f.measure IN ({', '.join(map(str, measures))})))::integer")
        elif name == "handling_seconds":
            counters.append(f"coalesce(sum(f.value) FILTER (WHERE f.measure = {int(Measure.HANDLED)}), 0)")
        elif name == "bounces":
            counters.append(f"coalesce(sum(f.value) FILTER (WHERE f.measure = {int(Measure.KEPT)}), 0)")
        elif name == "kept_bounced":
            counters.append(f"(count(*) FILTER (WHERE f.measure = {int(Measure.KEPT)} AND f.value > 0))::integer")
        elif name == "closed_reopened":
            counters.append(f"(count(*) FILTER (WHERE f.measure = {int(Measure.CLOSED)} AND f.value > 0))::integer")
        elif name in HANDLED_BUCKETS:
            # bucket_of's bounds: more than the bucket before's hours, at most its own.
            index = HANDLED_BUCKETS.index(name)
            within = [f"f.value > {BUCKET_HOURS[index - 1] * 3600}"] if index else []
            if index < len(BUCKET_HOURS):
                within.append(f"f.value <= {BUCKET_HOURS[index] * 3600}")
            counters.append(f"(count(*) FILTER (WHERE f.measure = {int(Measure.HANDLED)}"
                            f" AND {' AND '.join(within)}))::integer")
        else:
            raise AssertionError(f"no sum for {name}")
    facts = connection.ops.quote_name(StatsFact._meta.db_table)
    shapes = (
        " CROSS JOIN LATERAL (VALUES ('day', b.day), ('month', date_trunc('month', b.day)::date)) g(grain, start)"
        " CROSS JOIN LATERAL (VALUES (b.unit_id, b.category_id, b.district_id), (b.unit_id, {any}, b.district_id),"
        " ({any}, b.category_id, {any}), ({any}, {any}, {any})) k(unit_id, category_id, district_id)"
    ).format(any=ANY)
    # Written in the order the pages read them: a page reads the rows summed across units
    # or categories (one of the two ANY) of a run of days or months, and a year of them read
    # from rows scattered over the table costs a page of disk per row. The detailed rows
    # (a unit crossed with a category) come after all of them.
    order = (f"ORDER BY g.grain, (k.unit_id <> {ANY} AND k.category_id <> {ANY}),"
             " k.category_id, g.start, k.unit_id")
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{REBUILD_MEMORY}'")
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(StatsRollup._meta.db_table)}"
            f" (grain, start, unit_id, category_id, district_id, {', '.join(COUNTERS)})"
            f" SELECT g.grain, g.start, k.unit_id, k.category_id, k.district_id,"
            f" {', '.join(f'sum(b.{name})' for name in COUNTERS)}"
            f" FROM (SELECT f.day, f.unit_id, f.category_id, f.district_id,"
            f" {', '.join(f'{sql} AS {name}' for sql, name in zip(counters, COUNTERS, strict=True))}"
            f" FROM {facts} f GROUP BY 1, 2, 3, 4) b {shapes} GROUP BY 1, 2, 3, 4, 5 {order}"
        )
        cursor.execute("RESET work_mem")


def stats_rebuild(*, out=None) -> dict:
    """Recompute every fact and rollup from the event log; return what was counted.

    One transaction: the pages show the old figures until it commits, and the cursor
    stays locked meanwhile, so the periodic task waits. Events committed during the
    rebuild past the id it started from are left to that task.
    """
    started_clock = time.monotonic()
    _cursor_row()
    with transaction.atomic():
        cursor = StatsCursor.objects.select_for_update().get(id=1)
        started = timezone.now()
        high = TicketEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        StatsFact.objects.all().delete()
        StatsRollup.objects.all().delete()
        categories, districts = category_ids(), unit_districts()
        ticket_ids = TicketEvent.objects.filter(id__lte=high).order_by("ticket_id").values_list(
            "ticket_id", flat=True).distinct()
        # Ids near the top may belong to transactions still open when the rebuild began.
        window = range(max(high - REBUILD_WINDOW, 0) + 1, high + 1)
        seen_in_window: set[int] = set()
        facts_count = tickets_count = 0
        chunk: list[int] = []

        in_sql = connection.vendor == "postgresql"

        def fold(chunk: list[int]) -> int:
            facts = _fold_tickets(chunk, wanted=lambda event_id: event_id <= high,
                                  categories=categories, districts=districts)
            seen_in_window.update(f.event_id for f in facts if f.event_id in window)
            if in_sql:
                _insert_facts(facts)  # summed once at the end, in the database
            else:
                count_facts(facts)
            return len(facts)

        for ticket_id in ticket_ids.iterator(chunk_size=REBUILD_TICKETS):
            chunk.append(ticket_id)
            if len(chunk) == REBUILD_TICKETS:
                facts_count += fold(chunk)
                tickets_count += len(chunk)
                chunk = []
                if out:
                    out(f"{tickets_count} tickets, {facts_count} facts")
        if chunk:
            facts_count += fold(chunk)
            tickets_count += len(chunk)
        if in_sql:
            _rollups_from_facts()
        # An id of the window not counted was still being written, rolled back, counts
        # nothing, or was committed after its ticket was folded: the periodic task
        # looks for it again (folding an event that counts nothing adds nothing).
        epoch = started.timestamp()
        cursor.gaps = {str(i): epoch for i in window if i not in seen_in_window}
        cursor.last_event_id = high
        cursor.fresh_at = started
        cursor.save()
    return {"tickets": tickets_count, "facts": facts_count, "last_event_id": high,
            "seconds": round(time.monotonic() - started_clock, 1)}


def stats_fresh_at() -> dt.datetime | None:
    """Return the moment up to which the figures count every committed change (None before any run)."""
    return StatsCursor.objects.filter(id=1).values_list("fresh_at", flat=True).first()
