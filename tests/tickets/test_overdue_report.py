"""The overdue report's column: the sweep lists a ticket, every step that ends the listing clears it."""

import datetime as dt
import random

import pytest
import time_machine
from django.db.models import Exists, OuterRef
from django.utils import timezone

from tests.factories import make_ticket
from tickets import services
from tickets.errors import TicketError
from tickets.models import AlertLevel, DeadlineAlert, State, Ticket
from tickets.selectors import overdue_listed
from tickets.sla import sla_sweep

CST = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2026, 11, 2, 10, 0, tzinfo=CST)  # Monday; resolve due Mon 9 Nov 23:59:59
LISTED_AT = dt.datetime(2026, 11, 17, 0, 0, tzinfo=CST)  # the end of the 5th working day after
OVERDUE_URL = "/api/v1/reports/overdue/"


def listed_by_cards() -> set[int]:
    """The report as it was defined before the column: an overdue card on the current deadline."""
    card = DeadlineAlert.objects.filter(
        ticket=OuterRef("pk"), stage="resolve", level=AlertLevel.OVERDUE, due_at=OuterRef("resolve_due_at")
    )
    running = Ticket.objects.filter(state__in=[State.DISPATCHED, State.IN_PROGRESS])
    return set(running.filter(Exists(card)).values_list("id", flat=True))


def listed() -> set[int]:
    return set(overdue_listed(Ticket.objects.all()).values_list("id", flat=True))


def _late(city, state=State.IN_PROGRESS) -> Ticket:
    with time_machine.travel(START, tick=False):
        return make_ticket(city, state)


def test_the_sweep_lists_a_ticket_on_its_resolve_deadline_and_not_a_moment_before(city):
    ticket = _late(city)
    sla_sweep(now=LISTED_AT - dt.timedelta(seconds=2))
    assert Ticket.objects.get(id=ticket.id).overdue_listed_due is None
    assert listed() == set()

    sla_sweep(now=LISTED_AT)

    ticket.refresh_from_db()
    assert ticket.overdue_listed_due == ticket.resolve_due_at
    assert listed() == listed_by_cards() == {ticket.id}


def _assert_off_the_report(ticket: Ticket) -> None:
    assert Ticket.objects.get(id=ticket.id).overdue_listed_due is None
    assert listed() == listed_by_cards() == set()


def test_resolving_takes_the_ticket_off_the_report(city):
    ticket = _late(city)
    sla_sweep(now=LISTED_AT)
    services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply="已处理")
    _assert_off_the_report(ticket)


def test_a_returned_and_redispatched_ticket_is_not_listed_again_until_its_new_deadline_is_missed(city):
    ticket = _late(city)
    sla_sweep(now=LISTED_AT)
    services.ticket_return(ticket_id=ticket.id, actor=city.handler, reason="wrong_territory")
    _assert_off_the_report(ticket)

    with time_machine.travel(LISTED_AT + dt.timedelta(hours=10), tick=False):
        services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher)
        sla_sweep()
    ticket.refresh_from_db()
    assert ticket.state == State.DISPATCHED and ticket.overdue_listed_due is None
    assert listed() == listed_by_cards() == set()

    sla_sweep(now=ticket.resolve_due_at + dt.timedelta(days=20))
    assert Ticket.objects.get(id=ticket.id).overdue_listed_due == ticket.resolve_due_at
    assert listed() == listed_by_cards() == {ticket.id}


def test_an_extension_approved_after_the_listing_takes_the_ticket_off_the_report(city):
    ticket = _late(city)
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        services.ticket_request_extension(ticket_id=ticket.id, actor=city.handler, reason="需协调多部门",
                                          until=ticket.resolve_due_at + dt.timedelta(days=12))
    sla_sweep(now=LISTED_AT)
    assert listed() == {ticket.id}

    with time_machine.travel(LISTED_AT + dt.timedelta(hours=1), tick=False):
        services.ticket_decide_extension(ticket_id=ticket.id, actor=city.dispatcher, approve=True)

    _assert_off_the_report(ticket)


def _step(rng: random.Random, city, ticket: Ticket) -> None:
    """Try one thing a person (or the clock) might do to the ticket; refusals are part of the game."""
    h, d, now = city.handler, city.dispatcher, timezone.now()
    due = ticket.resolve_due_at or now
    actions = [
        lambda: services.ticket_claim(ticket_id=ticket.id, actor=h),
        lambda: services.ticket_resolve(ticket_id=ticket.id, actor=h, reply="已处理"),
        lambda: services.ticket_verify(ticket_id=ticket.id, actor=d),
        lambda: services.ticket_send_back(ticket_id=ticket.id, actor=d, reason="未处理到位"),
        lambda: services.ticket_rate(ticket_id=ticket.id, actor=None, rating="unsatisfied"),
        lambda: services.ticket_return(ticket_id=ticket.id, actor=h, reason="wrong_territory"),
        lambda: services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=d),
        lambda: services.ticket_request_extension(ticket_id=ticket.id, actor=h, reason="需协调",
                                                  until=max(due, now) + dt.timedelta(days=3)),
        lambda: services.ticket_decide_extension(ticket_id=ticket.id, actor=d, approve=rng.random() < 0.7),
        lambda: services.ticket_pause(ticket_id=ticket.id, actor=h, reason="请补充照片",
                                      until=now + dt.timedelta(days=2)),
        lambda: services.ticket_resume(ticket_id=ticket.id, actor=h),
    ]
    try:
        rng.choice(actions)()
    except TicketError:
        pass


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_report_and_the_admin_filter_agree_with_the_cards_after_any_sequence_of_steps(
    city, seed, api, browse
):
    rng = random.Random(seed)
    ever_listed = set()
    with time_machine.travel(START, tick=False) as clock:
        tickets = [make_ticket(city, rng.choice([State.DISPATCHED, State.IN_PROGRESS])) for _ in range(6)]
        for _ in range(60):
            clock.shift(dt.timedelta(hours=rng.uniform(2, 60)))
            if rng.random() < 0.4:
                sla_sweep()
            _step(rng, city, Ticket.objects.get(id=rng.choice(tickets).id))
            assert listed() == listed_by_cards()
            ever_listed |= listed()
        sla_sweep()
        expected = listed_by_cards()
        assert listed() == expected

        numbers = dict(Ticket.objects.values_list("id", "number"))
        report = api(city.dispatcher).get(OVERDUE_URL).json()["results"]
        assert {row["number"] for row in report} == {numbers[i] for i in expected}
        page = browse(city.dispatcher).get("/admin/tickets/ticket/?overdue=listed").content.decode()
        assert {n for n in numbers.values() if n in page} == {numbers[i] for i in expected}
    assert ever_listed, "the sequence never listed a ticket: it tested nothing"
