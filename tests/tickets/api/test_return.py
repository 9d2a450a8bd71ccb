"""POST /api/v1/tickets/{number}/return/: a unit hands a ticket back to the centre (退单)."""

import pytest

from tests.factories import make_ticket
from tests.tickets.api.helpers import act, assert_error, ticket_url
from tickets.models import State, Ticket, TicketEvent


def _return(api, user, ticket, body):
    return act(api(user), ticket, "return", body)


@pytest.mark.parametrize("state", [State.DISPATCHED, State.IN_PROGRESS])
def test_handler_returning_a_ticket_gets_200_with_the_ticket_back_at_the_centre(city, api, state):
    ticket = make_ticket(city, state)

    response = _return(api, city.handler, ticket, {"reason": "wrong_territory"})

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["number"] == ticket.number
    assert data["state"] == "accepted"
    assert data["unit"] is None


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("wrong_territory", "wrong_territory"),
        ("属地不符", "wrong_territory"),
        ("权属不清", "unclear_ownership"),
        ("职能交叉", "overlapping_duties"),
    ],
)
def test_return_is_recorded_with_its_reason_code(city, api, reason, code):
    ticket = make_ticket(city, State.DISPATCHED)

    _return(api, city.handler, ticket, {"reason": reason})

    ticket.refresh_from_db()
    assert ticket.state == State.ACCEPTED
    assert ticket.unit is None
    assert ticket.return_count == 1
    event = TicketEvent.objects.filter(ticket=ticket).latest("id")
    assert (event.kind, event.from_state, event.to_state) == ("return", "dispatched", "accepted")
    assert event.payload == {"reason": code}
    assert event.unit == city.bureau


def test_return_for_another_reason_keeps_the_comment(city, api):
    ticket = make_ticket(city, State.DISPATCHED)

    _return(api, city.handler, ticket, {"reason": "other", "comment": "该地址属于开发商自管小区"})

    event = TicketEvent.objects.filter(ticket=ticket).latest("id")
    assert event.payload == {"reason": "other"}
    assert event.note == "该地址属于开发商自管小区"


def test_returned_ticket_shows_at_the_centre_and_not_in_the_unit(city, api):
    ticket = make_ticket(city, State.DISPATCHED)

    _return(api, city.handler, ticket, {"reason": "wrong_territory"})

    assert api(city.dispatcher).get(ticket_url(ticket)).json()["state"] == "accepted"
    assert_error(api(city.handler).get(ticket_url(ticket)), 404)


def test_return_with_other_and_no_comment_is_400(city, api):
    ticket = make_ticket(city, State.DISPATCHED)

    response = _return(api, city.handler, ticket, {"reason": "other"})

    assert "comment" in assert_error(response, 400, "invalid")["fields"]
    assert Ticket.objects.get(id=ticket.id).state == State.DISPATCHED


def test_return_without_reason_is_400(city, api):
    ticket = make_ticket(city, State.DISPATCHED)

    response = _return(api, city.handler, ticket, {})

    assert "reason" in assert_error(response, 400, "invalid")["fields"]


def test_return_of_a_ticket_dispatched_as_final_is_409(city, api):
    ticket = make_ticket(city, State.ACCEPTED)
    dispatched = act(
        api(city.dispatcher), ticket, "dispatch", {"unit": "water-group", "final": True}
    )
    assert dispatched.status_code == 200
    events = TicketEvent.objects.filter(ticket=ticket).count()

    response = _return(api, city.handler, ticket, {"reason": "wrong_territory"})

    assert_error(response, 409, "conflict")
    ticket.refresh_from_db()
    assert ticket.state == State.DISPATCHED
    assert ticket.unit == city.bureau
    assert TicketEvent.objects.filter(ticket=ticket).count() == events


def test_return_of_a_final_ticket_in_progress_is_409_too(city, api):
    ticket = make_ticket(city, State.ACCEPTED)
    act(api(city.dispatcher), ticket, "dispatch", {"unit": "water-group", "final": True})
    act(api(city.handler), ticket, "claim")

    response = _return(api, city.handler, ticket, {"reason": "职能交叉"})

    assert_error(response, 409, "conflict")
    assert Ticket.objects.get(id=ticket.id).state == State.IN_PROGRESS


def test_another_unit_cannot_return_the_ticket(city, api):
    ticket = make_ticket(city, State.DISPATCHED)

    response = _return(api, city.other_handler, ticket, {"reason": "wrong_territory"})

    assert_error(response, 404)
    assert Ticket.objects.get(id=ticket.id).state == State.DISPATCHED
