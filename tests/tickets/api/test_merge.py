"""POST /api/v1/tickets/{number}/merge/: a duplicate folds into the ticket that carries it."""

import pytest

from tests.factories import make_ticket
from tests.tickets.api.helpers import act, assert_error, ticket_url
from tickets.models import State, Ticket, TicketEvent


def _merge(api, city, ticket, into):
    return act(api(city.dispatcher), ticket, "merge", {"into": into})


def test_merge_points_the_duplicate_at_its_target(city, api):
    duplicate, target = make_ticket(city), make_ticket(city)

    data = _merge(api, city, duplicate, target.number).json()

    assert data["state"] == "merged"
    assert data["merged_into"] == target.number
    assert data["events"][-1]["kind"] == "merge"


def test_merge_adds_to_the_targets_support_count(city, api):
    first, second, target = make_ticket(city), make_ticket(city), make_ticket(city)

    _merge(api, city, first, target.number)
    _merge(api, city, second, target.number)

    assert api(city.dispatcher).get(ticket_url(target)).json()["support_count"] == 2


def test_merge_carries_the_duplicates_own_support_along(city, api):
    supporter, duplicate, target = make_ticket(city), make_ticket(city), make_ticket(city)
    _merge(api, city, supporter, duplicate.number)

    _merge(api, city, duplicate, target.number)

    assert Ticket.objects.get(id=target.id).support_count == 2


def test_merge_writes_a_line_in_the_targets_history(city, api):
    duplicate, target = make_ticket(city), make_ticket(city, State.DISPATCHED)

    _merge(api, city, duplicate, target.number)

    event = TicketEvent.objects.filter(ticket=target).latest("id")
    assert event.kind == "merge_in"
    assert event.payload == {"ticket": duplicate.number}
    assert Ticket.objects.get(id=target.id).state == State.DISPATCHED


@pytest.mark.parametrize(
    "target_state", [State.CLOSED, State.ARCHIVED, State.REJECTED, State.MERGED]
)
def test_merge_into_a_finished_ticket_is_409(city, api, target_state):
    duplicate, target = make_ticket(city), make_ticket(city, target_state)
    events = TicketEvent.objects.count()
    support = target.support_count

    response = _merge(api, city, duplicate, target.number)

    assert_error(response, 409, "conflict")
    assert Ticket.objects.get(id=duplicate.id).state == State.REPORTED
    assert Ticket.objects.get(id=target.id).support_count == support
    assert TicketEvent.objects.count() == events


def test_merge_into_itself_is_400(city, api):
    ticket = make_ticket(city)

    response = _merge(api, city, ticket, ticket.number)

    assert "into" in assert_error(response, 400)["fields"]
    assert Ticket.objects.get(id=ticket.id).state == State.REPORTED


def test_merge_into_an_unknown_ticket_is_400(city, api):
    ticket = make_ticket(city)

    response = _merge(api, city, ticket, "2601019999999")

    assert "into" in assert_error(response, 400)["fields"]


def test_merge_without_a_target_is_400(city, api):
    ticket = make_ticket(city)

    response = act(api(city.dispatcher), ticket, "merge")

    assert "into" in assert_error(response, 400)["fields"]
