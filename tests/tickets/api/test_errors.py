"""Every API error is JSON `{"error": code, "detail": text}` (design §4), whatever raised it."""

import json

from tests.factories import make_ticket
from tests.tickets.api.helpers import TICKETS, act, assert_error, ticket_url, transition_url
from tickets.models import State, Ticket, TicketEvent


def test_field_error_is_400_json_with_fields(city, api):
    response = api(city.operator).post(TICKETS, {"description": "停水"}, format="json")

    body = assert_error(response, 400, "invalid")
    assert "category" in body["fields"]
    assert "category" in body["detail"]


def test_domain_field_error_is_400_json_with_fields(city, api):
    ticket = make_ticket(city, State.ACCEPTED)

    response = act(api(city.dispatcher), ticket, "dispatch", {"unit": "no-such-unit"})

    body = assert_error(response, 400, "invalid")
    assert "unit" in body["fields"]


def test_missing_credentials_is_401_json(city, api):
    assert_error(api().get(TICKETS), 401, "unauthenticated")


def test_wrong_role_is_403_json(city, api):
    ticket = make_ticket(city, State.REPORTED)

    response = act(api(city.operator), ticket, "accept")

    assert_error(response, 403, "forbidden")


def test_hidden_ticket_is_404_json(city, api):
    ticket = make_ticket(city, State.DISPATCHED)

    assert_error(api(city.other_handler).get(ticket_url(ticket)), 404, "not_found")


def test_unknown_ticket_number_is_404_json(city, api):
    assert_error(api(city.dispatcher).get(f"{TICKETS}2601019999999/"), 404, "not_found")


def test_wrong_state_is_409_json(city, api):
    ticket = make_ticket(city, State.ACCEPTED)

    response = act(api(city.dispatcher), ticket, "accept")

    assert_error(response, 409, "conflict")


def test_wrong_method_is_405_json(city, api):
    ticket = make_ticket(city, State.REPORTED)

    response = api(city.dispatcher).get(transition_url(ticket, "accept"))

    assert_error(response, 405, "method_not_allowed")


def test_body_over_64_kib_is_413_json(city, api):
    body = json.dumps({"category": "water-outage", "description": "停" * 30_000}).encode()
    assert len(body) > 64 * 1024

    response = api(city.operator).post(TICKETS, body, content_type="application/json")

    assert_error(response, 413, "too_large")


def test_body_over_64_kib_on_a_transition_is_413_json_and_changes_nothing(city, api):
    ticket = make_ticket(city, State.REPORTED)
    body = json.dumps({"reason": "x" * (65 * 1024)})

    response = api(city.dispatcher).post(
        transition_url(ticket, "reject"), body, content_type="application/json"
    )

    assert_error(response, 413, "too_large")
    assert Ticket.objects.get(id=ticket.id).state == State.REPORTED


def test_body_just_under_the_limit_is_read(city, api):
    count = Ticket.objects.count()
    body = json.dumps({"category": "water-outage", "description": "x" * (60 * 1024)})

    response = api(city.operator).post(TICKETS, body, content_type="application/json")

    # Read and refused for its content (too long a description), not for its size.
    body = assert_error(response, 400)
    assert "description" in body["fields"]
    assert Ticket.objects.count() == count


def test_malformed_json_is_400_malformed(city, api):
    count, events = Ticket.objects.count(), TicketEvent.objects.count()

    response = api(city.operator).post(
        TICKETS, b'{"category": "water-outage", "description": ', content_type="application/json"
    )

    assert_error(response, 400, "malformed")
    assert (Ticket.objects.count(), TicketEvent.objects.count()) == (count, events)


def test_malformed_json_on_a_transition_is_400_malformed(city, api):
    ticket = make_ticket(city, State.REPORTED)

    response = api(city.dispatcher).post(
        transition_url(ticket, "reject"), b"{reason: spam}", content_type="application/json"
    )

    assert_error(response, 400, "malformed")


def test_json_array_instead_of_an_object_is_400_json(city, api):
    response = api(city.operator).post(TICKETS, [1, 2, 3], format="json")

    assert_error(response, 400)


def test_form_encoded_body_is_415_json(city, api):
    response = api(city.operator).post(
        TICKETS, "category=water-outage&description=x",
        content_type="application/x-www-form-urlencoded",
    )

    assert_error(response, 415, "unsupported_media_type")
