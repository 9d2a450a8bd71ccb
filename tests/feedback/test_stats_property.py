"""Rollups kept by the periodic task equal a direct count from the tickets and their events.

Hypothesis plays random lives through the services (any transition, wrong ones too,
red cards from the sweep, recategorising dispatches, time moving on by hours) and
counts incrementally at random moments in small batches; the rollups must then equal
the same figures counted straight from the event log and the tickets, in every grain
and every row shape, and a rebuild must give the same tables.
"""

import datetime as dt
from collections import Counter, defaultdict

import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback.models import ANY, COUNTERS, HANDLED_BUCKETS, NO_UNIT, StatsFact, StatsRollup
from feedback.stats.facts import bucket_of
from feedback.stats.rollup import stats_catch_up, stats_rebuild
from feedback.stats.selectors import BY_CATEGORY, BY_DISTRICT, BY_UNIT, Filters, Period, stats_sums
from tests.factories import make_category, make_ticket
from tickets import services
from tickets.errors import TicketError
from tickets.models import Ticket, TicketEvent
from tickets.sla import sla_sweep

START = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Friday, near a month's end
TICKETS = 4
STEPS = ("accept", "reject", "merge", "dispatch_street", "dispatch_bureau", "dispatch_recategorised", "claim",
         "return", "resolve", "send_back", "verify", "rate_satisfied", "rate_basically", "rate_unsatisfied",
         "expire", "sweep", "count")

steps = st.lists(
    st.tuples(st.integers(0, TICKETS - 1), st.sampled_from(STEPS), st.sampled_from([0, 0.5, 1, 3, 7, 26])),
    min_size=5, max_size=60,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lives=steps, batch=st.integers(1, 7))
def test_rollups_equal_the_figures_counted_straight_from_the_events(city, lives, batch):
    with transaction.atomic():
        _play(city, lives, batch)
        stats_catch_up(batch=batch, max_batches=10_000)

        expected = _direct_rollups()
        assert _stored_rollups() == expected
        _check_reads(expected)
        incremental = _tables()
        stats_rebuild()
        assert _tables() == incremental
        transaction.set_rollback(True)


def _play(city, lives, batch):
    other = make_category(code="water-quality")
    clock = START
    with time_machine.travel(clock, tick=False):
        tickets = [make_ticket(city).id for _ in range(TICKETS)]
    for index, step, hours in lives:
        clock += dt.timedelta(hours=hours)
        with time_machine.travel(clock, tick=False):
            _try(city, tickets, index, step, other, clock, batch)


def _try(city, tickets, index, step, other, clock, batch):
    ticket_id = tickets[index]
    ticket = Ticket.objects.get(id=ticket_id)
    handler = city.street_handler if ticket.unit_id == city.street.id else city.handler
    d = city.dispatcher
    act = {
        "accept": lambda: services.ticket_accept(ticket_id=ticket_id, actor=d),
        "reject": lambda: services.ticket_reject(ticket_id=ticket_id, actor=d, reason="重复"),
        "merge": lambda: services.ticket_merge(ticket_id=ticket_id, into_id=tickets[(index + 1) % TICKETS], actor=d),
        "dispatch_street": lambda: services.ticket_dispatch(ticket_id=ticket_id, unit=city.street, actor=d),
        "dispatch_bureau": lambda: services.ticket_dispatch(ticket_id=ticket_id, unit=city.bureau, actor=d),
        "dispatch_recategorised": lambda: services.ticket_dispatch(
            ticket_id=ticket_id, unit=city.bureau, actor=d,
            category=other if ticket.category_id == city.category.id else city.category,
        ),
        "claim": lambda: services.ticket_claim(ticket_id=ticket_id, actor=handler),
        "return": lambda: services.ticket_return(ticket_id=ticket_id, actor=handler, reason="wrong_territory"),
        "resolve": lambda: services.ticket_resolve(ticket_id=ticket_id, actor=handler, reply="已处理"),
        "send_back": lambda: services.ticket_send_back(ticket_id=ticket_id, actor=d, reason="不到位"),
        "verify": lambda: services.ticket_verify(ticket_id=ticket_id, actor=d),
        "rate_satisfied": lambda: services.ticket_rate(ticket_id=ticket_id, actor=city.operator, rating="satisfied"),
        "rate_basically": lambda: services.ticket_rate(
            ticket_id=ticket_id, actor=city.operator, rating="basically_satisfied"),
        "rate_unsatisfied": lambda: services.ticket_rate(
            ticket_id=ticket_id, actor=city.operator, rating="unsatisfied"),
        "expire": lambda: services.ticket_expire_feedback(ticket_id=ticket_id, now=clock),
        "sweep": lambda: sla_sweep(now=clock),
        "count": lambda: stats_catch_up(batch=batch, max_batches=1),
    }[step]
    try:
        act()
    except TicketError:
        pass  # a step the ticket's state or the clock does not allow: nothing happens


# -- the direct count ---------------------------------------------------------------------------------------

def _direct_rollups() -> dict:
    """Count every ticket's history straight from its events, as the formulas in feedback.stats.facts say."""
    from feedback.stats.rollup import category_ids, unit_districts

    districts, categories = unit_districts(), category_ids()
    rows: dict[tuple, Counter] = defaultdict(Counter)
    for ticket in Ticket.objects.order_by("id"):
        events = list(TicketEvent.objects.filter(ticket=ticket).order_by("id"))
        for day, unit, category, added, seconds in _ticket_counts(ticket, events, categories):
            district = districts.get(unit, NO_UNIT)
            for key in _keys(day, unit, category, district):
                rows[key].update(added)
                if seconds is not None:
                    rows[key][HANDLED_BUCKETS[bucket_of(seconds)]] += 1
    _check_against_ticket_columns(rows)
    return {key: {c: counts[c] for c in COUNTERS} for key, counts in rows.items() if any(counts.values())}


def _keys(day, unit, category, district):
    for grain, start in (("day", day), ("month", day.replace(day=1))):
        yield (grain, start, unit, category, district)
        yield (grain, start, unit, ANY, district)
        yield (grain, start, ANY, category, ANY)
        yield (grain, start, ANY, ANY, ANY)


def _ticket_counts(ticket, events, categories):
    changes = [e.payload["previous_category"] for e in events
               if e.kind == "dispatch" and "previous_category" in e.payload]
    category = categories[changes[0]] if changes else ticket.category_id
    unit, round_, returns, reopens, kept = NO_UNIT, None, 0, 0, False
    for e in events:
        day = timezone.localtime(e.at).date()
        counts = Counter()
        seconds = None
        if e.kind in ("report", "reject", "merge"):
            counts[{"report": "reported", "reject": "rejected", "merge": "merged"}[e.kind]] = 1
            yield day, NO_UNIT, category, counts, None
            continue
        if e.kind == "dispatch":
            category = categories[e.payload["category"]] if "category" in e.payload else category
            unit, round_ = e.unit_id, {"start": e.at, "claim": False, "resolve": False, "reply": None}
            counts["received"] = 1
        elif e.kind == "reopen":
            reopens += 1
            counts["reopened"] = 1
            round_ = {"start": e.at, "claim": False, "resolve": False, "reply": None}
        elif e.kind == "claim" and not round_["claim"]:
            round_["claim"] = True
            on_time = e.at <= dt.datetime.fromisoformat(e.payload["claim_due_at"])
            counts["claimed_on_time" if on_time else "claimed_late"] = 1
        elif e.kind == "warning_red" and e.payload["stage"] in ("claim", "resolve") and not round_[e.payload["stage"]]:
            round_[e.payload["stage"]] = True
            counts["claimed_late" if e.payload["stage"] == "claim" else "resolved_late"] = 1
        elif e.kind == "return":
            returns += 1
            counts["returned"] = 1
        elif e.kind == "resolve":
            round_["reply"] = (e.at, dt.datetime.fromisoformat(e.payload["resolve_due_at"]))
        elif e.kind == "send_back":
            counts["sent_back"] = 1
        elif e.kind == "verify":
            replied, due = round_["reply"]
            if not round_["resolve"]:
                round_["resolve"] = True
                counts["resolved_on_time" if replied <= due else "resolved_late"] = 1
            seconds = int((replied - round_["start"]).total_seconds())
            counts.update(handled=1, handling_seconds=seconds)
            if not kept:
                kept = True
                counts.update(kept=1, bounces=returns, kept_bounced=int(returns > 0))
        elif e.kind in ("rate", "expire_feedback"):
            if e.kind == "rate":
                counts["basically_satisfied" if e.payload["rating"] == "basically_satisfied" else "satisfied"] = 1
            else:
                counts["expired"] = 1
            counts.update(closed=1, closed_reopened=int(reopens > 0))
        yield day, unit, category, counts, seconds
        if e.kind == "return":
            unit, round_ = NO_UNIT, None


def _check_against_ticket_columns(rows) -> None:
    """The ticket's own counters agree with the events' (a check of the direct count itself)."""
    tickets = Ticket.objects.all()
    months = [c for key, c in rows.items() if key[0] == "month" and key[2] == ANY and key[3] == ANY]
    total = sum(months, Counter())
    assert total["reopened"] == sum(t.reopen_count for t in tickets)
    assert total["returned"] == sum(t.return_count for t in tickets)
    assert total["reported"] == tickets.count()


def _check_reads(expected: dict) -> None:
    """The dashboard's reads (edge days and whole months, by unit and by category) sum the direct count."""
    period = Period(START.date(), dt.date(2027, 2, 28))
    months = {key: counts for key, counts in expected.items() if key[0] == "month"}

    def summed(match) -> dict:
        totals = defaultdict(Counter)
        for key, counts in months.items():
            group = match(key)
            if group is not False:
                totals[group].update(counts)
        return {group: {c: counts[c] for c in COUNTERS} for group, counts in totals.items()}

    city = summed(lambda key: None if key[2:4] == (ANY, ANY) else False)
    by_unit = summed(lambda key: key[2] if key[3] == ANY and key[2] not in (ANY, NO_UNIT) else False)
    by_category = summed(lambda key: key[3] if key[2] == ANY and key[3] != ANY else False)
    by_district = summed(lambda key: key[4] if key[3] == ANY and key[2] not in (ANY, NO_UNIT) else False)
    for by, wanted in ((None, city), (BY_UNIT, by_unit), (BY_CATEGORY, by_category), (BY_DISTRICT, by_district)):
        read = stats_sums(period=period, filters=Filters(), by=by)
        assert {group: figures.counters for group, figures in read.items() if any(figures.counters.values())} == {
            group: counts for group, counts in wanted.items() if any(counts.values())
        }


# -- what is stored -----------------------------------------------------------------------------------------

def _stored_rollups() -> dict:
    return {
        (r["grain"], r["start"], r["unit_id"], r["category_id"], r["district_id"]): {c: r[c] for c in COUNTERS}
        for r in StatsRollup.objects.values()
    }


def _tables() -> tuple:
    facts = sorted(StatsFact.objects.values_list(
        "ticket_id", "event_id", "day", "unit_id", "category_id", "district_id", "measure", "value"))
    return _stored_rollups(), facts
