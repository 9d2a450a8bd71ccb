"""seed_demo's tickets: two weeks of a hotline, in every state, with histories that replay."""

import datetime as dt
from collections import Counter

import pytest
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from departments.demo import seed_demo
from departments.models import Routing
from tickets.models import (
    OPEN_STATES,
    Channel,
    DeadlineAlert,
    ExtensionRequest,
    Notification,
    Sla,
    State,
    Ticket,
    TicketEvent,
)
from tickets.notifications import OUTSTANDING
from tickets.sla import archive_sweep, feedback_expiry_sweep, sla_sweep


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """Seed the demo once for the module, in a transaction rolled back after it."""
    with django_db_blocker.unblock(), transaction.atomic():
        seed_demo(with_passwords=False, with_tickets=True)
        yield
        transaction.set_rollback(True)


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo")]


def test_the_demo_has_a_few_hundred_tickets_in_every_state_and_from_every_channel():
    assert Ticket.objects.count() == 300
    assert set(Ticket.objects.values_list("state", flat=True)) == set(State.values)
    assert set(Ticket.objects.values_list("channel", flat=True)) == set(Channel.values)


def test_every_demo_history_replays_to_its_tickets_state():
    events: dict[int, list] = {}
    rows = TicketEvent.objects.values("ticket_id", "kind", "from_state", "to_state", "at")
    rows = rows.order_by("id")
    for event in rows:
        events.setdefault(event["ticket_id"], []).append(event)
    for ticket in Ticket.objects.all():
        history = events[ticket.id]
        assert history[0]["kind"] == "report" and history[0]["to_state"] == State.REPORTED
        for before, after in zip(history, history[1:]):
            assert after["from_state"] == before["to_state"], ticket.number
            assert after["at"] >= before["at"], ticket.number
        assert history[-1]["to_state"] == ticket.state, ticket.number


def test_demo_tickets_lie_in_the_last_two_weeks_and_nothing_in_the_future():
    now = timezone.now()
    assert not Ticket.objects.filter(reported_at__lt=now - dt.timedelta(days=16)).exists()
    assert not TicketEvent.objects.filter(at__gt=now).exists()
    assert not Ticket.objects.filter(updated_at__gt=now).exists()
    assert Ticket.objects.filter(reported_at__gt=now - dt.timedelta(days=1)).exists()


def test_every_demo_tickets_running_deadline_is_the_one_its_state_gives():
    for ticket in Ticket.objects.all():
        due, warn = ticket.due_at, ticket.warn_at
        ticket.refresh_sla()
        assert (ticket.due_at, ticket.warn_at) == (due, warn), ticket.number
        running = ticket.state in OPEN_STATES and ticket.state != State.RESOLVED
        if running and ticket.paused_at is None:
            assert ticket.due_at is not None, ticket.number


def test_the_demo_shows_returns_reopens_pauses_extensions_and_cards():
    tickets = Ticket.objects.all()
    assert tickets.filter(return_count__gt=0, state=State.ACCEPTED).exists()
    assert tickets.filter(return_count__gt=0, state=State.CLOSED).exists()
    assert tickets.filter(reopen_count__gt=0, state=State.DISPATCHED).exists()
    assert tickets.filter(state=State.IN_PROGRESS, paused_at__isnull=False).exists()
    assert ExtensionRequest.objects.filter(status=ExtensionRequest.Status.PENDING).exists()
    assert ExtensionRequest.objects.filter(status=ExtensionRequest.Status.APPROVED).exists()
    assert TicketEvent.objects.filter(kind="send_back").exists()
    assert TicketEvent.objects.filter(kind="expire_feedback").exists()
    assert set(DeadlineAlert.objects.values_list("level", flat=True)) >= {"yellow", "red", "urge"}
    slas = Counter(t.sla for t in tickets.filter(state__in=OPEN_STATES))
    assert slas[Sla.WARNING] and slas[Sla.BREACHED] and slas[Sla.OK] > slas[Sla.BREACHED]


def test_demo_extension_requests_are_dated_with_their_history():
    for request in ExtensionRequest.objects.all():
        asked = TicketEvent.objects.get(ticket_id=request.ticket_id, kind="request_extension")
        assert request.requested_at == asked.at


def test_demo_dispatches_mostly_follow_each_categorys_routing():
    functional = Ticket.objects.filter(category__routing=Routing.FUNCTIONAL, unit__isnull=False)
    routed = functional.filter(unit=F("category__default_unit")).count()
    assert routed >= 0.8 * functional.count()
    # The demo logins' own queues are not empty.
    assert Ticket.objects.filter(unit__code="water-group").count() >= 20
    assert Ticket.objects.filter(unit__code="wuchang-zhongnan").count() >= 5


def test_demo_notices_are_recorded_but_none_is_ever_sent():
    notices = Notification.objects.all()
    assert notices.filter(kind=Notification.Kind.ACKNOWLEDGEMENT).exists()
    assert notices.filter(kind=Notification.Kind.ESCALATION).exists()
    assert not notices.filter(status__in=OUTSTANDING).exists()
    assert not notices.filter(status=Notification.Status.SENT).exists()


def test_seeding_the_demo_again_adds_no_tickets():
    events = TicketEvent.objects.count()
    seed_demo(with_passwords=False, with_tickets=True)
    assert Ticket.objects.count() == 300
    assert TicketEvent.objects.count() == events


def test_the_sweeps_run_cleanly_over_the_demo_now_and_in_the_days_to_come():
    assert sla_sweep() == 0  # seeding left nothing due
    feedback_expiry_sweep()
    archive_sweep()
    later = timezone.now() + dt.timedelta(days=3)
    assert sla_sweep(now=later) > 0
    assert not Ticket.objects.filter(next_check_at__lte=later).exists()
