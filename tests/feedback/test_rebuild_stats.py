"""`manage.py rebuild_stats`: the rollups again from the event log, equal to the ones kept as it went."""

import io

from django.core.management import call_command

from feedback.models import StatsCursor, StatsFact, StatsRollup
from feedback.stats.rollup import stats_catch_up
from tests.factories import make_ticket
from tickets.models import State


def _tables():
    return (
        sorted(StatsRollup.objects.values_list(*[f.attname for f in StatsRollup._meta.fields if f.attname != "id"])),
        sorted(StatsFact.objects.values_list("event_id", "measure", "value", "day", "unit_id", "category_id")),
    )


def test_rebuild_gives_the_tables_the_periodic_count_kept(city):
    for state in (State.CLOSED, State.REJECTED, State.IN_PROGRESS, State.ARCHIVED):
        make_ticket(city, state)
    stats_catch_up()
    kept = _tables()
    StatsRollup.objects.update(received=999)  # figures gone wrong, whatever the cause

    out = io.StringIO()
    call_command("rebuild_stats", stdout=out)

    assert _tables() == kept
    assert "facts of 4 tickets" in out.getvalue()
    assert StatsCursor.objects.get().fresh_at is not None


def test_rebuild_then_the_periodic_count_adds_only_what_came_after(city):
    make_ticket(city, State.CLOSED)
    call_command("rebuild_stats", stdout=io.StringIO())
    make_ticket(city, State.CLOSED)

    stats_catch_up()

    assert StatsRollup.objects.get(grain="month", unit_id=-1, category_id=-1).closed == 2
