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


def test_feedback_expires_only_after_the_rating_window(city):
    from tickets.sla import feedback_expiry_sweep

    ticket = make_ticket(city, State.AWAITING_FEEDBACK)
    rated = make_ticket(city, State.CLOSED)
    assert feedback_expiry_sweep(now=ticket.feedback_due_at - dt.timedelta(seconds=1)) == 0
    assert feedback_expiry_sweep(now=ticket.feedback_due_at + dt.timedelta(seconds=1)) == 1
    ticket.refresh_from_db()
    assert ticket.state == State.CLOSED and ticket.rating == ""
    assert ticket.events.latest("id").kind == "expire_feedback"
    assert Ticket.objects.get(id=rated.id).rating == "satisfied"


def test_expiry_refuses_a_window_that_is_still_open(city):
    from tickets.errors import Conflict

    ticket = make_ticket(city, State.AWAITING_FEEDBACK)
    with pytest.raises(Conflict):
        services.ticket_expire_feedback(ticket_id=ticket.id)
    assert Ticket.objects.get(id=ticket.id).state == State.AWAITING_FEEDBACK


def test_closed_rejected_and_merged_tickets_are_archived_after_the_configured_days(city, settings):
    from tickets.sla import archive_sweep

    settings.MINHU_ARCHIVE_AFTER_DAYS = 30
    closed, rejected, merged = (make_ticket(city, s) for s in (State.CLOSED, State.REJECTED, State.MERGED))
    open_ticket = make_ticket(city, State.IN_PROGRESS)
    assert archive_sweep(now=closed.closed_at + dt.timedelta(days=29)) == 0
    assert archive_sweep(now=closed.closed_at + dt.timedelta(days=31)) == 3
    states = dict(Ticket.objects.filter(id__in=[closed.id, rejected.id, merged.id, open_ticket.id])
                  .values_list("id", "state"))
    assert states == {closed.id: State.ARCHIVED, rejected.id: State.ARCHIVED,
                      merged.id: State.ARCHIVED, open_ticket.id: State.IN_PROGRESS}
    assert archive_sweep(now=closed.closed_at + dt.timedelta(days=40)) == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_embedded_demo_raises_cards_without_a_worker():
    import time

    from django.utils import timezone

    from tickets import embedded
    from tickets.sla import sla_sweep

    city = make_city()
    overdue, _ = services.ticket_create(
        category=city.category, description="井盖缺失", channel="staff",
        reported_at=timezone.now() - dt.timedelta(hours=3),
    )
    stop = embedded.start(tick=0.05, jobs=((0.1, sla_sweep),))
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not DeadlineAlert.objects.filter(ticket=overdue).exists():
            time.sleep(0.1)
    finally:
        stop.set()
    assert _cards(overdue) == [("accept", "red")]
