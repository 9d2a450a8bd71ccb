"""The periodic count: every committed event once, in whatever order transactions commit."""

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from feedback.models import StatsCursor, StatsFact, StatsRollup
from feedback.stats.rollup import GAP_SECONDS, stats_catch_up, stats_fresh_at
from tests.factories import make_city, make_ticket
from tickets import services
from tickets.models import Channel, State


def _reported() -> int:
    return StatsRollup.objects.get(grain="month", unit_id=-1, category_id=-1).reported


def _report(city):
    return services.ticket_create(category=city.category, description="路灯不亮", channel=Channel.WEB)


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_after_a_later_one_is_counted_once_it_commits():
    city = make_city()
    stats_catch_up()  # the cursor starts after the ids earlier tests took
    written, release = threading.Event(), threading.Event()

    def slow_report():
        try:
            with transaction.atomic():
                _report(city)
                written.set()
                release.wait(10)
        finally:
            connection.close()

    slow = threading.Thread(target=slow_report)
    slow.start()
    assert written.wait(10)
    _report(city)  # a later id, committed first
    stats_catch_up()
    cursor = StatsCursor.objects.get()
    assert _reported() == 1 and len(cursor.gaps) == 1

    release.set()
    slow.join(10)
    stats_catch_up()

    assert _reported() == 2
    assert StatsCursor.objects.get().gaps == {}


@pytest.mark.django_db(transaction=True)
def test_an_id_rolled_back_is_looked_for_until_the_gap_time_then_given_up():
    city = make_city()
    stats_catch_up()
    with pytest.raises(RuntimeError), transaction.atomic():
        _report(city)
        raise RuntimeError("the webhook failed after the report")
    _report(city)
    now = timezone.now()

    stats_catch_up(now=now)
    assert len(StatsCursor.objects.get().gaps) == 1
    stats_catch_up(now=now + dt.timedelta(seconds=GAP_SECONDS - 1))
    assert len(StatsCursor.objects.get().gaps) == 1
    stats_catch_up(now=now + dt.timedelta(seconds=GAP_SECONDS + 1))

    assert StatsCursor.objects.get().gaps == {}
    assert _reported() == 1


def test_a_second_run_counts_nothing_twice(city):
    make_ticket(city, State.CLOSED)
    stats_catch_up()
    facts = StatsFact.objects.count()

    assert stats_catch_up() == 0
    assert StatsFact.objects.count() == facts > 0
    assert _reported() == 1


def test_small_batches_count_what_one_batch_counts(city):
    for _ in range(3):
        make_ticket(city, State.CLOSED)

    stats_catch_up(batch=2, max_batches=100)

    assert StatsRollup.objects.get(grain="day", unit_id=-1, category_id=-1).closed == 3


def test_the_figures_are_as_fresh_as_the_start_of_the_last_run_that_read_everything(city):
    assert stats_fresh_at() is None
    make_ticket(city, State.CLOSED)
    before = timezone.now()

    stats_catch_up(batch=2, max_batches=1)  # stops with events left
    assert stats_fresh_at() is None
    stats_catch_up()

    assert before <= stats_fresh_at() <= timezone.now()
