"""Who sees which tickets through the API: one visibility rule for list, detail and transitions."""

import pytest

from tests.factories import make_ticket
from tests.tickets.api.helpers import TICKETS, VALID_BODIES, act, assert_error, ticket_url
from tickets.models import State, Ticket, TicketEvent

TRANSITIONS = [
    "accept", "reject", "merge", "dispatch", "claim", "return", "request-extension",
    "approve-extension", "refuse-extension", "pause", "resume", "resolve", "verify", "send-back",
    "rate", "expire-feedback", "archive",
]

# Valid bodies (merge needs a target), so a refusal can only come from the ticket being hidden.
VALID_BODIES = {**VALID_BODIES, "merge": {"into": "2601019999999"}}


def _numbers(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["number"] for row in response.json()["results"]}


@pytest.fixture
def tickets(city):
    """One ticket per holder: nobody yet, the water group, the power company, the street."""
    return {
        "reported": make_ticket(city, State.REPORTED),
        "accepted": make_ticket(city, State.ACCEPTED),
        "bureau": make_ticket(city, State.IN_PROGRESS),
        "other": make_ticket(city, State.DISPATCHED, unit=city.other_bureau),
        "street": make_ticket(city, State.DISPATCHED, unit=city.street),
    }


def test_handler_lists_only_its_units_tickets(city, api, tickets):
    assert _numbers(api(city.handler).get(TICKETS)) == {tickets["bureau"].number}


def test_unit_admin_lists_only_its_units_tickets(city, api, tickets):
    assert _numbers(api(city.unit_admin).get(TICKETS)) == {tickets["bureau"].number}


def test_handler_cannot_see_another_units_ticket(city, api, tickets):
    response = api(city.other_handler).get(ticket_url(tickets["bureau"]))

    assert_error(response, 404, "not_found")


def test_hidden_ticket_and_missing_ticket_look_the_same(city, api, tickets):
    hidden = api(city.other_handler).get(ticket_url(tickets["bureau"])).json()
    missing = api(city.other_handler).get(f"{TICKETS}2601019999999/").json()

    assert hidden["error"] == missing["error"] == "not_found"


def test_handler_cannot_see_a_ticket_nobody_holds_yet(city, api, tickets):
    assert_error(api(city.handler).get(ticket_url(tickets["reported"])), 404)
    assert_error(api(city.handler).get(ticket_url(tickets["accepted"])), 404)


@pytest.mark.parametrize("transition", TRANSITIONS)
def test_other_units_handler_gets_404_on_every_transition(city, api, tickets, transition):
    ticket = tickets["bureau"]
    events = TicketEvent.objects.filter(ticket=ticket).count()

    response = act(api(city.other_handler), ticket, transition, VALID_BODIES.get(transition, {}))

    assert_error(response, 404, "not_found")
    assert Ticket.objects.get(id=ticket.id).state == State.IN_PROGRESS
    assert TicketEvent.objects.filter(ticket=ticket).count() == events


@pytest.mark.parametrize("transition", TRANSITIONS)
def test_handler_gets_404_on_every_transition_of_an_undispatched_ticket(
    city, api, tickets, transition
):
    body = VALID_BODIES.get(transition, {})

    response = act(api(city.handler), tickets["reported"], transition, body)

    assert_error(response, 404, "not_found")
    assert Ticket.objects.get(id=tickets["reported"].id).state == State.REPORTED


def test_supervisor_sees_tickets_of_the_street_under_the_district(city, api, tickets):
    client = api(city.supervisor)

    assert _numbers(client.get(TICKETS)) == {tickets["street"].number}
    assert client.get(ticket_url(tickets["street"])).status_code == 200


def test_supervisor_does_not_see_tickets_outside_the_district(city, api, tickets):
    client = api(city.supervisor)

    assert_error(client.get(ticket_url(tickets["bureau"])), 404)
    assert_error(client.get(ticket_url(tickets["reported"])), 404)


def test_supervisor_reads_but_cannot_claim_a_street_ticket(city, api, tickets):
    response = act(api(city.supervisor), tickets["street"], "claim")

    assert_error(response, 403, "forbidden")
    assert Ticket.objects.get(id=tickets["street"].id).state == State.DISPATCHED


def test_water_group_handler_does_not_see_a_ticket_dispatched_to_the_street(city, api, tickets):
    client = api(city.handler)

    assert tickets["street"].number not in _numbers(client.get(TICKETS))
    assert_error(client.get(ticket_url(tickets["street"])), 404)


def test_street_handler_sees_the_street_ticket_only(city, api, tickets):
    assert _numbers(api(city.street_handler).get(TICKETS)) == {tickets["street"].number}


@pytest.mark.parametrize("role", ["dispatcher", "operator"])
def test_centre_staff_see_every_ticket_including_undispatched_ones(city, api, tickets, role):
    client = api(getattr(city, role))

    assert _numbers(client.get(TICKETS)) == {t.number for t in tickets.values()}
    for ticket in tickets.values():
        assert client.get(ticket_url(ticket)).status_code == 200


def test_staff_without_membership_sees_nothing(city, api, tickets):
    client = api(city.outsider)

    response = client.get(TICKETS)

    assert response.status_code == 200
    assert response.json()["results"] == []
    for ticket in tickets.values():
        assert_error(client.get(ticket_url(ticket)), 404)


def test_staff_without_membership_cannot_search_a_ticket_by_number(city, api, tickets):
    response = api(city.outsider).get(TICKETS, {"q": tickets["bureau"].number})

    assert response.json()["results"] == []


def test_staff_without_membership_gets_404_on_a_transition(city, api, tickets):
    response = act(api(city.outsider), tickets["reported"], "accept")

    assert_error(response, 404)
    assert Ticket.objects.get(id=tickets["reported"].id).state == State.REPORTED


def test_handler_filtering_by_another_unit_gets_nothing_of_it(city, api, tickets):
    response = api(city.handler).get(TICKETS, {"unit": "power-supply"})

    assert _numbers(response) == set()


def test_handler_searching_another_units_ticket_by_number_finds_nothing(city, api, tickets):
    response = api(city.handler).get(TICKETS, {"q": tickets["other"].number})

    assert _numbers(response) == set()
