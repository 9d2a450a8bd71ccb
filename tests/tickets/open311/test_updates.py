"""FixMyStreet's servicerequestupdates: the public history as updates (GET), a citizen's update (POST)."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import advance_ticket, make_city, make_ticket
from tests.tickets.open311.conftest import BASE, UPDATE_FIELDS, errors_of, items_of, json_of, post_form, post_request
from tickets import services
from tickets.models import State, Ticket, TicketEvent

WHERE = {"lat": "30.546712", "long": "114.341129"}


@pytest.fixture
def city(db):
    return make_city()


def _updates(response, fmt: str = "json") -> list[dict]:
    return items_of(response, fmt, "service_request_updates", "request_update")


def _sent(web, api_key: str) -> Ticket:
    response = post_request(web, api_key, service_code="water-outage", description="停水", **WHERE)
    return Ticket.objects.get(number=json_of(response)[0]["service_request_id"])


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_each_public_history_line_is_an_update_with_fixmystreets_fields(city, web, fmt):
    ticket = make_ticket(city, State.DISPATCHED)
    other = make_ticket(city)
    services.ticket_merge(ticket_id=other.id, into_id=ticket.id, actor=city.dispatcher)  # merge_in is not public

    updates = _updates(web.get(f"{BASE}/servicerequestupdates.{fmt}"), fmt)

    assert all(set(u) == UPDATE_FIELDS for u in updates)
    public = TicketEvent.objects.filter(is_public=True).order_by("at", "id")
    assert [u["update_id"] for u in updates] == [str(e.id) for e in public]
    mine = [u for u in updates if u["service_request_id"] == ticket.number]
    assert [u["description"] for u in mine] == ["Report received", "Accepted by the hotline centre", "Sent to 水务集团"]
    assert {u["status"] for u in mine} == {"OPEN"}
    merge = [u for u in updates if u["service_request_id"] == other.number][-1]
    assert merge["status"] == "CLOSED"
    event = public.first()
    assert updates[0]["updated_datetime"] == timezone.localtime(event.at).isoformat(timespec="seconds")


def test_updates_keep_to_their_window(city, web):
    ticket = make_ticket(city)
    event = ticket.events.get()
    at = timezone.localtime(event.at)

    def listed(start, end):
        params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
        return [u["update_id"] for u in _updates(web.get(f"{BASE}/servicerequestupdates.json", params))]

    assert listed(at - dt.timedelta(minutes=1), at + dt.timedelta(minutes=1)) == [str(event.id)]
    assert listed(at + dt.timedelta(seconds=1), at + dt.timedelta(hours=1)) == []
    assert listed(at - dt.timedelta(days=1), at - dt.timedelta(hours=1)) == []
    paged = web.get(f"{BASE}/servicerequestupdates.json", {"page_size": "1", "page": "2"})
    assert _updates(paged) == []


def test_the_details_of_an_update_go_only_to_the_client_that_sent_the_request(city, web, api_key, other_key):
    ticket = _sent(web, api_key)
    services.ticket_accept(ticket_id=ticket.id, actor=city.dispatcher)
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher)
    services.ticket_claim(ticket_id=ticket.id, actor=city.handler)
    services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply="已联系王先生，恢复供水")
    services.ticket_verify(ticket_id=ticket.id, actor=city.dispatcher)

    def verify_line(**params):
        updates = _updates(web.get(f"{BASE}/servicerequestupdates.json", params))
        return [u["description"] for u in updates if u["service_request_id"] == ticket.number][-1]

    assert verify_line(api_key=api_key) == "The hotline centre checked the unit's reply: 已联系王先生，恢复供水"
    assert verify_line(api_key=other_key) == verify_line() == "The hotline centre checked the unit's reply"


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_citizens_update_is_recorded_on_the_ticket_as_a_public_comment(city, web, api_key, fmt):
    ticket = _sent(web, api_key)

    response = post_form(web, f"servicerequestupdates.{fmt}", {
        "api_key": api_key, "service_request_id": ticket.number, "update_id": "fms-991", "status": "OPEN",
        "updated_datetime": "2026-11-24T10:00:00Z", "description": "水还是没来 <b>急</b>",
        "media_url": "https://fms.example.org/u/991.jpeg", "first_name": "王", "last_name": "小明",
        "email": "wang@example.org",
    })

    assert response.status_code == 200, response.content
    [answer] = _updates(response, fmt)
    event = TicketEvent.objects.get(kind="comment")
    assert answer == {"update_id": str(event.id)}
    assert (event.ticket, event.is_public, event.note) == (ticket, True, "水还是没来 <b>急</b>")
    assert event.actor is None and event.to_state == "reported"
    assert "wang@example.org" not in str(event.payload)
    own = _updates(web.get(f"{BASE}/servicerequestupdates.json", {"api_key": api_key}))[-1]
    assert own["update_id"] == str(event.id)
    assert own["description"] == "Comment added: 水还是没来 <b>急</b>"
    assert own["media_url"] == "https://fms.example.org/u/991.jpeg"
    public = _updates(web.get(f"{BASE}/servicerequestupdates.json"))[-1]
    assert (public["description"], public["media_url"]) == ("Comment added", "")


@pytest.mark.parametrize("state", [State.CLOSED, State.ARCHIVED, State.REJECTED])
def test_a_closed_request_takes_no_update(city, web, api_key, state):
    ticket = advance_ticket(city, _sent(web, api_key), state)

    response = post_form(web, "servicerequestupdates.xml", {
        "api_key": api_key, "service_request_id": ticket.number, "description": "还没修好",
    })

    assert response.status_code == 400
    assert "closed" in errors_of(response, "xml")[0]["description"]
    assert not TicketEvent.objects.filter(kind="comment").exists()


@pytest.mark.parametrize(("case", "status"), [
    ("another client's request", 403),
    ("a request sent by phone", 403),
    ("unknown request", 404),
    ("no description", 400),
    ("no request", 400),
    ("bad key", 403),
])
def test_a_bad_update_gets_the_spec_error_and_records_nothing(city, web, api_key, other_key, case, status):
    ticket = _sent(web, api_key)
    form = {"api_key": api_key, "service_request_id": ticket.number, "description": "补充"}
    if case == "another client's request":
        form["api_key"] = other_key
    elif case == "a request sent by phone":
        form["service_request_id"] = make_ticket(city).number
    elif case == "unknown request":
        form["service_request_id"] = "2611240009999"
    elif case == "no description":
        form["description"] = "  "
    elif case == "no request":
        del form["service_request_id"]
    else:
        form["api_key"] = "nope"

    response = post_form(web, "servicerequestupdates.json", form)

    assert response.status_code == status
    assert errors_of(response, "json")[0]["code"] == status
    assert not TicketEvent.objects.filter(kind="comment").exists()
