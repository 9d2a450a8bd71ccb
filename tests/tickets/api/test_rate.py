"""POST /api/v1/tickets/{number}/rate/ and expire-feedback/: the citizen's rating (回访)."""

import pytest

from tests.factories import make_ticket
from tests.tickets.api.helpers import act, assert_error
from tickets.models import State, Ticket, TicketEvent


@pytest.mark.parametrize("rating", ["satisfied", "basically_satisfied"])
def test_a_good_rating_closes_the_ticket(city, api, rating):
    ticket = make_ticket(city, State.AWAITING_FEEDBACK)

    data = act(api(city.operator), ticket, "rate", {"rating": rating}).json()

    assert data["state"] == "closed"
    assert data["reopen_count"] == 0
    assert data["deadlines"]["feedback"] is not None
    assert Ticket.objects.get(id=ticket.id).rating == rating


def test_unsatisfied_reopens_the_ticket_to_the_same_unit(city, api):
    ticket = make_ticket(city, State.AWAITING_FEEDBACK)
    body = {"rating": "unsatisfied", "comment": "水还是没来"}

    response = act(api(city.operator), ticket, "rate", body)

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["state"] == "dispatched"
    assert data["unit"] == "water-group"
    assert data["reopen_count"] == 1
    event = data["events"][-1]
    assert (event["kind"], event["from_state"], event["to_state"]) == (
        "reopen", "awaiting_feedback", "dispatched"
    )
    assert event["note"] == "水还是没来"


def test_reopened_ticket_gets_new_claim_and_resolve_deadlines(city, api):
    ticket = make_ticket(city, State.AWAITING_FEEDBACK)

    act(api(city.operator), ticket, "rate", {"rating": "unsatisfied"})

    reopened = Ticket.objects.get(id=ticket.id)
    assert reopened.claim_due_at > ticket.claim_due_at
    assert reopened.resolve_due_at >= ticket.resolve_due_at


def test_reopened_ticket_goes_round_the_loop_again(city, api):
    ticket = make_ticket(city, State.AWAITING_FEEDBACK)
    act(api(city.operator), ticket, "rate", {"rating": "unsatisfied"})
    handler, dispatcher = api(city.handler), api(city.dispatcher)

    assert act(handler, ticket, "claim").status_code == 200
    assert act(handler, ticket, "resolve", {"reply": "重新接通"}).status_code == 200
    assert act(dispatcher, ticket, "verify").status_code == 200
    data = act(api(city.operator), ticket, "rate", {"rating": "unsatisfied"}).json()

    assert data["state"] == "dispatched"
    assert data["reopen_count"] == 2


def test_rating_that_is_not_one_of_the_three_is_400(city, api):
    ticket = make_ticket(city, State.AWAITING_FEEDBACK)

    response = act(api(city.operator), ticket, "rate", {"rating": "great"})

    assert "rating" in assert_error(response, 400, "invalid")["fields"]
    assert Ticket.objects.get(id=ticket.id).state == State.AWAITING_FEEDBACK


@pytest.mark.parametrize("role", ["dispatcher", "operator", "street_handler", "supervisor"])
def test_expire_feedback_is_refused_to_people(city, api, role):
    ticket = make_ticket(city, State.AWAITING_FEEDBACK, unit=city.street)
    events = TicketEvent.objects.filter(ticket=ticket).count()

    response = act(api(getattr(city, role)), ticket, "expire-feedback")

    assert_error(response, 403, "forbidden")
    assert Ticket.objects.get(id=ticket.id).state == State.AWAITING_FEEDBACK
    assert TicketEvent.objects.filter(ticket=ticket).count() == events
