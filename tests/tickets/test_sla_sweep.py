"""The deadline sweep: yellow at 80 %, red at the deadline, each card exactly once."""

import datetime as dt
import threading

import pytest
from django.db import connection

from tests.factories import make_city, make_ticket
from tickets import services
from tickets.models import DeadlineAlert, State, Ticket
from tickets.sla import sla_sweep


def _cards(ticket) -> list[tuple[str, str]]:
    return list(DeadlineAlert.objects.filter(ticket=ticket).order_by("id").values_list("stage", "level"))


def test_a_new_ticket_gets_yellow_at_eighty_percent_and_red_at_its_accept_deadline(city):
    ticket = make_ticket(city)  # accept within 2 hours
    start = ticket.reported_at
    assert sla_sweep(now=start + dt.timedelta(minutes=95)) == 0
    assert sla_sweep(now=start + dt.timedelta(minutes=97)) == 1
    assert sla_sweep(now=start + dt.timedelta(minutes=98)) == 0
    assert sla_sweep(now=start + dt.timedelta(hours=2, seconds=1)) == 1
    assert sla_sweep(now=start + dt.timedelta(hours=3)) == 0
    assert _cards(ticket) == [("accept", "yellow"), ("accept", "red")]
    kinds = list(ticket.events.order_by("id").values_list("kind", flat=True))
    assert kinds == ["report", "warning_yellow", "warning_red"]
    assert Ticket.objects.get(id=ticket.id).next_check_at is None


def test_a_dispatched_ticket_watches_its_claim_and_then_its_resolve_deadline(city):
    ticket = make_ticket(city, State.DISPATCHED)
    sla_sweep(now=ticket.claim_due_at + dt.timedelta(seconds=1))
    assert _cards(ticket) == [("claim", "red")]
    assert Ticket.objects.get(id=ticket.id).next_check_at == ticket.resolve_warn_at
    sla_sweep(now=ticket.resolve_due_at + dt.timedelta(seconds=1))
    assert _cards(ticket) == [("claim", "red"), ("resolve", "red")]


def test_closing_stops_every_clock_and_a_reopened_ticket_earns_new_cards(city):
    closed = make_ticket(city, State.CLOSED)
    assert closed.next_check_at is None
    ticket = make_ticket(city, State.IN_PROGRESS)
    sla_sweep(now=ticket.resolve_due_at + dt.timedelta(seconds=1))
    services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply="已处理")
    services.ticket_verify(ticket_id=ticket.id, actor=city.dispatcher)
    reopened = services.ticket_rate(ticket_id=ticket.id, actor=None, rating="unsatisfied")
    sla_sweep(now=reopened.resolve_due_at + dt.timedelta(seconds=1))
    assert _cards(ticket) == [("resolve", "red"), ("claim", "red"), ("resolve", "red")]
    assert _cards(closed) == []


def test_a_sweep_with_nothing_due_reads_only_the_due_index(city, django_assert_max_num_queries):
    for _ in range(5):
        make_ticket(city, State.DISPATCHED)
    with django_assert_max_num_queries(3):  # savepoint, the SELECT, release
        assert sla_sweep() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_two_sweeps_racing_raise_each_card_exactly_once():
    city = make_city()
    tickets = [make_ticket(city) for _ in range(30)]
    late = max(t.accept_due_at for t in tickets) + dt.timedelta(minutes=1)
    barrier, counts = threading.Barrier(4), []

    def sweep():
        try:
            barrier.wait()
            counts.append(sla_sweep(now=late, batch=7))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(counts) == 30
    assert DeadlineAlert.objects.filter(level="red").count() == 30
    assert DeadlineAlert.objects.count() == 30  # red only: the yellow mark was passed over


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_real_celery_worker_runs_the_sweep_from_the_redis_queue():
    import time

    from celery.contrib.testing.worker import start_worker
    from django.conf import settings
    from django.utils import timezone

    from config.celery import app
    from tickets.tasks import sla_sweep_task

    assert not settings.CELERY_TASK_ALWAYS_EAGER and settings.CELERY_BROKER_URL.startswith("redis://")
    city = make_city()
    overdue, _ = services.ticket_create(
        category=city.category, description="积水", channel="staff",
        reported_at=timezone.now() - dt.timedelta(hours=3),
    )
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        sla_sweep_task.delay()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not DeadlineAlert.objects.filter(ticket=overdue).exists():
            time.sleep(0.2)
    assert _cards(overdue) == [("accept", "red")]
