"""Races on PostgreSQL with real threads: one winner, clear conflicts, unique numbers."""

import pytest

from tests.factories import make_city, make_ticket
from tests.threads import race
from tickets import services
from tickets.errors import Conflict, NotAllowed
from tickets.models import State, Ticket, TicketEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_of_eight_concurrent_claims_exactly_one_wins_and_seven_get_a_conflict():
    city = make_city()
    ticket = make_ticket(city, State.DISPATCHED)
    results = race(8, lambda i: services.ticket_claim(ticket_id=ticket.id, actor=city.handler))

    wins = [r for r in results if isinstance(r, Ticket)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(wins) == 1 and len(conflicts) == 7, results
    assert Ticket.objects.get(id=ticket.id).state == State.IN_PROGRESS
    assert TicketEvent.objects.filter(ticket=ticket, kind="claim").count() == 1


def test_claims_racing_returns_leave_a_history_that_chains_to_the_final_state():
    city = make_city()
    ticket = make_ticket(city, State.DISPATCHED)

    def job(i):
        if i % 2:
            return services.ticket_claim(ticket_id=ticket.id, actor=city.handler)
        return services.ticket_return(ticket_id=ticket.id, actor=city.handler, reason="wrong_territory")

    results = race(6, job)
    ticket.refresh_from_db()
    # Losers either find the state changed (409) or the ticket gone from their unit (403).
    assert all(isinstance(r, (Ticket, Conflict, NotAllowed)) for r in results), results
    events = list(TicketEvent.objects.filter(ticket=ticket).order_by("id"))
    for before, after in zip(events, events[1:]):
        assert after.from_state == before.to_state, [(e.kind, e.from_state, e.to_state) for e in events]
    assert events[-1].to_state == ticket.state
    assert len([r for r in results if isinstance(r, Ticket)]) == len(events) - 3  # report, accept, dispatch


def test_concurrent_dispatch_and_reject_never_both_succeed():
    city = make_city()
    ticket = make_ticket(city, State.REPORTED)

    def job(i):
        if i % 2:
            return services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher)
        return services.ticket_reject(ticket_id=ticket.id, actor=city.dispatcher, reason="重复")

    results = race(6, job)
    assert len([r for r in results if isinstance(r, Ticket)]) == 1, results
    assert len([r for r in results if isinstance(r, Conflict)]) == 5
    assert TicketEvent.objects.filter(ticket=ticket).count() == 2


def test_ticket_numbers_stay_unique_under_concurrent_creation():
    city = make_city()

    def job(i):
        return [
            services.ticket_create(category=city.category, description=f"并发{i}-{n}", channel="staff")[0].number
            for n in range(25)
        ]

    results = race(8, job)
    numbers = [n for batch in results for n in batch]
    assert len(numbers) == 200
    assert len(set(numbers)) == 200
    assert Ticket.objects.count() == 200
