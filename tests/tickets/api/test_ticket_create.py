"""POST /api/v1/tickets/: the centre enters a ticket for a citizen."""

import re

import pytest

from tests.factories import make_category
from tests.tickets.api.helpers import TICKETS, assert_error
from tickets.models import Ticket, TicketEvent


def _phone_call(**overrides) -> dict:
    body = {
        "category": "water-outage",
        "description": "中南路小区从早上开始停水",
        "location": {"address": "武昌区中南路12号", "lat": 30.5431, "lng": 114.3316},
        "channel": "phone",
        "reporter": {"name": "王小明", "phone": "13800138000"},
    }
    return {**body, **overrides}


@pytest.fixture
def counts():
    """Return a function giving (tickets, events) now, to show a refusal wrote nothing."""
    return lambda: (Ticket.objects.count(), TicketEvent.objects.count())


def test_operator_enters_a_phone_call(city, api):
    response = api(city.operator).post(TICKETS, _phone_call(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert re.fullmatch(r"\d{13}", body["number"])
    assert re.fullmatch(r"\d{8}", body["access_code"])
    assert body["state"] == "reported"
    assert body["channel"] == "phone"
    assert body["category"] == "water-outage"
    assert body["unit"] is None
    assert body["location"] == {"address": "武昌区中南路12号", "lat": 30.5431, "lng": 114.3316}
    assert body["reporter"] == {"name": "王小明", "phone": "13800138000", "is_masked": False}
    assert [e["kind"] for e in body["events"]] == ["report"]
    assert body["events"][0]["to_state"] == "reported"
    assert body["events"][0]["actor"] == "operator"


def test_created_ticket_is_stored_with_one_report_event(city, api):
    number = api(city.operator).post(TICKETS, _phone_call(), format="json").json()["number"]

    ticket = Ticket.objects.get(number=number)
    assert ticket.reporter_phone == "13800138000"
    assert list(ticket.events.values_list("kind", flat=True)) == ["report"]


def test_access_code_opens_the_ticket_and_is_not_stored_in_clear(city, api):
    body = api(city.operator).post(TICKETS, _phone_call(), format="json").json()

    ticket = Ticket.objects.get(number=body["number"])
    assert ticket.check_access_code(body["access_code"])
    assert body["access_code"] not in ticket.access_code_hash


def test_access_code_is_not_shown_again_in_the_detail(city, api):
    client = api(city.operator)
    number = client.post(TICKETS, _phone_call(), format="json").json()["number"]

    assert "access_code" not in client.get(f"{TICKETS}{number}/").json()


def test_created_ticket_starts_the_accept_clock_only(city, api):
    deadlines = api(city.operator).post(TICKETS, _phone_call(), format="json").json()["deadlines"]

    assert deadlines["accept"] is not None
    assert deadlines["claim"] is None
    assert deadlines["resolve"] is None
    assert deadlines["feedback"] is None


def test_channel_defaults_to_staff(city, api):
    body = {"category": "water-outage", "description": "路面塌陷"}

    response = api(city.operator).post(TICKETS, body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["channel"] == "staff"


def test_dispatcher_may_enter_a_ticket_too(city, api):
    response = api(city.dispatcher).post(TICKETS, _phone_call(), format="json")

    assert response.status_code == 201, response.content


def test_phone_is_normalised(city, api):
    body = _phone_call(reporter={"phone": "+86 138-0013-8000"})

    response = api(city.operator).post(TICKETS, body, format="json")

    assert response.json()["reporter"]["phone"] == "13800138000"


def test_description_is_stored_without_surrounding_spaces(city, api):
    response = api(city.operator).post(TICKETS, _phone_call(description="  停水  "), format="json")

    assert response.json()["description"] == "停水"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reporter": {"name": "王小明"}}, "phone"),
        ({"reporter": {"phone": "12345"}}, "phone"),
        ({"category": "ufo-sighting"}, "category"),
        ({"category": "water"}, "category"),
        ({"description": "     "}, "description"),
        ({"description": "水" * 6000}, "description"),
        ({"location": {"lat": 91, "lng": 114.3}}, "lat"),
        ({"location": {"lat": 30.5, "lng": 181}}, "lng"),
        ({"location": {"lat": 30.5}}, "location"),
        ({"location": {"lng": 114.3}}, "location"),
        ({"location": {"address": "路" * 301}}, "address"),
        ({"location": {"lat": "north", "lng": 114.3}}, "location"),
        ({"channel": "weibo"}, "channel"),
    ],
    ids=[
        "phone-channel-without-phone", "bad-phone", "unknown-category", "group-category",
        "blank-description", "long-description", "lat-91", "lng-181", "lat-without-lng",
        "lng-without-lat", "long-address", "lat-not-a-number", "channel-of-another-intake",
    ],
)
def test_bad_input_is_refused_with_the_field_and_writes_nothing(city, api, counts, change, field):
    before = counts()

    response = api(city.operator).post(TICKETS, _phone_call(**change), format="json")

    body = assert_error(response, 400, "invalid")
    assert field in body["fields"], body
    assert counts() == before


@pytest.mark.parametrize("missing", ["category", "description"])
def test_required_field_missing_is_refused(city, api, counts, missing):
    before = counts()
    body = _phone_call()
    del body[missing]

    response = api(city.operator).post(TICKETS, body, format="json")

    assert missing in assert_error(response, 400, "invalid")["fields"]
    assert counts() == before


def test_inactive_category_is_refused(city, api, counts):
    make_category(code="water-pressure", default_unit=city.bureau, is_active=False)
    before = counts()
    body = _phone_call(category="water-pressure")

    response = api(city.operator).post(TICKETS, body, format="json")

    assert "category" in assert_error(response, 400)["fields"]
    assert counts() == before


@pytest.mark.parametrize("role", ["handler", "unit_admin", "supervisor", "outsider"])
def test_staff_outside_the_centre_cannot_enter_tickets(city, api, counts, role):
    before = counts()

    response = api(getattr(city, role)).post(TICKETS, _phone_call(), format="json")

    assert_error(response, 403, "forbidden")
    assert counts() == before


def test_body_over_64_kib_is_413_and_writes_nothing(city, api, counts):
    before = counts()
    raw = ('{"category": "water-outage", "description": "' + "x" * (70 * 1024) + '"}').encode()

    response = api(city.operator).post(TICKETS, raw, content_type="application/json")

    assert_error(response, 413, "too_large")
    assert counts() == before


def test_malformed_json_is_400_malformed_and_writes_nothing(city, api, counts):
    before = counts()

    response = api(city.operator).post(
        TICKETS, b'{"category": "water-outage",', content_type="application/json"
    )

    assert_error(response, 400, "malformed")
    assert counts() == before


def test_each_created_ticket_gets_its_own_number_and_code(city, api):
    client = api(city.operator)

    first = client.post(TICKETS, _phone_call(), format="json").json()
    second = client.post(TICKETS, _phone_call(), format="json").json()

    assert first["number"] != second["number"]
    assert int(second["number"][-7:]) > int(first["number"][-7:])
