"""GET /api/v1/tickets/{number}/: the ticket's shape, its deadlines, its history, masking."""

import datetime as dt

from tests.factories import make_ticket
from tests.tickets.api.helpers import EVENT_KEYS, TICKET_KEYS, TICKETS, ticket_url
from tickets.models import State


def _time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, f"{value} has no offset"
    return parsed


def test_ticket_reads_with_every_contract_key(city, api):
    ticket = make_ticket(city, State.DISPATCHED, address="中南路1号", lat="30.5431", lng="114.3316")

    body = api(city.dispatcher).get(ticket_url(ticket)).json()

    assert TICKET_KEYS <= set(body)
    assert body["number"] == ticket.number
    assert body["state"] == "dispatched"
    assert body["channel"] == "phone"
    assert body["category"] == "water-outage"
    assert body["unit"] == "water-group"
    assert body["description"] == ticket.description
    assert body["location"] == {"address": "中南路1号", "lat": 30.5431, "lng": 114.3316}
    assert set(body["deadlines"]) == {"accept", "claim", "resolve", "feedback"}
    assert body["sla"] == "ok"
    assert body["reopen_count"] == 0
    assert body["support_count"] == 0


def test_list_rows_have_the_same_contract_keys(city, api):
    make_ticket(city, State.DISPATCHED)

    row = api(city.dispatcher).get(TICKETS).json()["results"][0]

    assert TICKET_KEYS <= set(row)
    assert "events" not in row


def test_ticket_without_a_point_reads_null_coordinates(city, api):
    ticket = make_ticket(city)

    body = api(city.dispatcher).get(ticket_url(ticket)).json()

    assert body["location"] == {"address": "", "lat": None, "lng": None}
    assert body["unit"] is None


def test_times_are_iso_8601_with_the_local_offset(city, api):
    ticket = make_ticket(city, State.DISPATCHED)

    body = api(city.dispatcher).get(ticket_url(ticket)).json()

    times = [body["reported_at"], body["deadlines"]["accept"], body["deadlines"]["claim"],
             body["deadlines"]["resolve"], *(event["at"] for event in body["events"])]
    for value in times:
        assert value.endswith("+08:00"), value
        _time(value)
    assert _time(body["reported_at"]) == ticket.reported_at


def test_reported_ticket_has_only_the_accept_deadline(city, api):
    ticket = make_ticket(city)

    deadlines = api(city.dispatcher).get(ticket_url(ticket)).json()["deadlines"]

    assert _time(deadlines["accept"]) == ticket.reported_at + dt.timedelta(hours=2)
    assert deadlines["claim"] is None
    assert deadlines["resolve"] is None
    assert deadlines["feedback"] is None


def test_accepted_ticket_has_no_claim_or_resolve_deadline_yet(city, api):
    ticket = make_ticket(city, State.ACCEPTED)

    deadlines = api(city.dispatcher).get(ticket_url(ticket)).json()["deadlines"]

    assert deadlines["accept"] is not None
    assert deadlines["claim"] is None and deadlines["resolve"] is None


def test_dispatch_starts_the_claim_and_resolve_deadlines(city, api):
    ticket = make_ticket(city, State.DISPATCHED)

    deadlines = api(city.dispatcher).get(ticket_url(ticket)).json()["deadlines"]

    assert _time(deadlines["claim"]) == ticket.dispatched_at + dt.timedelta(hours=4)
    resolve = _time(deadlines["resolve"])
    assert resolve.time() == dt.time(23, 59, 59)
    assert resolve.date() > ticket.dispatched_at.date()
    assert deadlines["feedback"] is None


def test_verify_starts_the_feedback_deadline(city, api):
    ticket = make_ticket(city, State.AWAITING_FEEDBACK)

    deadlines = api(city.dispatcher).get(ticket_url(ticket)).json()["deadlines"]

    feedback = _time(deadlines["feedback"])
    assert feedback.time() == dt.time(23, 59, 59)
    assert feedback > ticket.verified_at


def test_detail_lists_events_oldest_first_with_contract_keys(city, api):
    ticket = make_ticket(city, State.IN_PROGRESS)

    events = api(city.dispatcher).get(ticket_url(ticket)).json()["events"]

    assert [e["kind"] for e in events] == ["report", "accept", "dispatch", "claim"]
    for event in events:
        assert EVENT_KEYS <= set(event)
    assert [(e["from_state"], e["to_state"]) for e in events] == [
        ("", "reported"), ("reported", "accepted"), ("accepted", "dispatched"),
        ("dispatched", "in_progress"),
    ]
    assert [e["actor"] for e in events] == ["operator", "dispatcher", "dispatcher", "handler"]
    assert events[2]["unit"] == "water-group"
    assert events[0]["unit"] is None
    times = [_time(e["at"]) for e in events]
    assert times == sorted(times)


def test_detail_event_note_carries_the_reason(city, api):
    ticket = make_ticket(city, State.REJECTED)

    events = api(city.dispatcher).get(ticket_url(ticket)).json()["events"]

    assert events[-1]["kind"] == "reject"
    assert events[-1]["note"] == "不属于受理范围"


def test_handler_sees_the_reporters_phone_masked(city, api):
    ticket = make_ticket(
        city, State.DISPATCHED, reporter_phone="13800138000", reporter_name="王小明"
    )

    reporter = api(city.handler).get(ticket_url(ticket)).json()["reporter"]

    assert reporter["phone"] == "138****8000"
    assert reporter["is_masked"] is True
    assert reporter["name"] != "王小明"
    assert reporter["name"].startswith("王")


def test_handler_sees_the_phone_masked_in_the_list_too(city, api):
    make_ticket(city, State.DISPATCHED, reporter_phone="13800138000")

    row = api(city.handler).get(TICKETS).json()["results"][0]

    assert row["reporter"]["phone"] == "138****8000"
    assert row["reporter"]["is_masked"] is True


def test_supervisor_sees_the_reporters_phone_masked(city, api):
    ticket = make_ticket(city, State.DISPATCHED, unit=city.street, reporter_phone="13800138000")

    reporter = api(city.supervisor).get(ticket_url(ticket)).json()["reporter"]

    assert reporter["phone"] == "138****8000"
    assert reporter["is_masked"] is True


def test_operator_sees_the_reporters_phone_in_full(city, api):
    ticket = make_ticket(
        city, State.DISPATCHED, reporter_phone="13800138000", reporter_name="王小明"
    )

    reporter = api(city.operator).get(ticket_url(ticket)).json()["reporter"]

    assert reporter == {"name": "王小明", "phone": "13800138000", "is_masked": False}


def test_handler_cannot_search_by_phone_into_another_units_tickets(city, api):
    make_ticket(city, State.DISPATCHED, unit=city.other_bureau, reporter_phone="13912345678")

    response = api(city.handler).get(TICKETS, {"q": "13912345678"})

    assert response.json()["results"] == []
