"""POST requests.{xml,json}: a form from an Open311 client becomes a ticket, or the spec's error and nothing."""

import json

import pytest
from django.test import Client

from tests.factories import make_city
from tests.tickets.open311.conftest import (
    BASE,
    FORM,
    children,
    errors_of,
    items_of,
    json_of,
    make_service_with_questions,
    post_request,
    xml_of,
)
from tickets.intake.open311_services import open311_key_revoke
from tickets.models import Channel, InboundMessage, Open311Key, Ticket

WHERE = {"lat": "30.546712", "long": "114.341129"}


@pytest.fixture
def city(db):
    city = make_city()
    make_service_with_questions()
    return city


def _answer(response, fmt: str) -> dict:
    [answer] = items_of(response, fmt, "service_requests", "request")
    return answer


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_request_becomes_a_ticket_answered_with_its_number_and_token(city, web, api_key, fmt):
    response = post_request(web, api_key, fmt, {
        "service_code": "water-outage", "description": "三楼停水两天了", "address_string": "武昌区中南路 1 号",
        "first_name": "王", "last_name": "小明", "phone": "138 0013 8000", "email": "wang@example.org",
        "media_url": "https://fms.example.org/photo/1.jpeg", "account_id": "fms-77", **WHERE,
    })

    assert response.status_code == 200
    answer = _answer(response, fmt)
    assert set(answer) == {"service_request_id", "token", "service_notice", "account_id"}
    ticket = Ticket.objects.get()
    assert answer["service_request_id"] == ticket.number
    assert answer["account_id"] == "fms-77"
    assert (ticket.channel, ticket.category.code, ticket.state) == (Channel.OPEN311, "water-outage", "reported")
    assert ticket.description == "三楼停水两天了"
    assert ticket.address == "武昌区中南路 1 号"
    assert (str(ticket.lat), str(ticket.lng)) == ("30.546712", "114.341129")
    assert (ticket.reporter_name, ticket.reporter_phone) == ("王 小明", "13800138000")
    message = InboundMessage.objects.get()
    assert message.ticket == ticket and message.external_id == answer["token"]
    assert (message.channel, message.outcome, message.sender) == ("open311", "opened", "fixmystreet")
    assert message.text == "三楼停水两天了"
    assert message.pictures == ["https://fms.example.org/photo/1.jpeg"]
    kept = json.loads(message.raw)
    assert kept["form"]["email"] == ["wang@example.org"]
    assert "api_key" not in kept["form"] and api_key not in message.raw


def test_the_answers_to_every_datatype_are_kept_with_the_message(city, web, api_key):
    response = post_request(web, api_key, fields={
        "service_code": "street-light", "description": "路灯坏了", **WHERE,
        "attribute[kind]": "dark",
        "attribute[parts][]": ["lamp", "pole"],
        "attribute[area]": "2.5",
        "attribute[seen_at]": "2026-11-20T21:00:00Z",
        "attribute[pole_number]": "WC-0231",
        "attribute[details]": "从上周开始\n整条路都黑",
        "attribute[not_asked]": "ignored",
        "attribute[notice]": "not a question",
    })

    assert response.status_code == 200, response.content
    attributes = json.loads(InboundMessage.objects.get().raw)["attributes"]
    assert attributes == {
        "kind": "dark", "parts": ["lamp", "pole"], "area": "2.5", "seen_at": "2026-11-21T05:00:00+08:00",
        "pole_number": "WC-0231", "details": "从上周开始\n整条路都黑",
    }


def test_staff_read_the_answers_on_the_tickets_page(city, web, api_key, browse):
    post_request(web, api_key, fields={
        "service_code": "street-light", "description": "路灯坏了", **WHERE,
        "attribute[kind]": "flicker", "attribute[parts]": ["lamp", "cable"],
    })
    ticket = Ticket.objects.get()

    page = browse(city.dispatcher).get(f"/admin/tickets/ticket/{ticket.pk}/change/")

    assert page.status_code == 200
    assert page.context["desk_service_answers"] == [("问题 kind", "闪烁"), ("问题 parts", "灯头, 线缆")]
    assert "闪烁" in page.content.decode()


@pytest.mark.parametrize("where", [
    {"address_string": "中南路 1 号"},
    {"address_id": "420106-000123"},
    WHERE,
])
def test_one_kind_of_location_is_enough(city, web, api_key, where):
    response = post_request(web, api_key, service_code="water-outage", description="停水", **where)

    assert response.status_code == 200, response.content
    ticket = Ticket.objects.get()
    if "address_id" in where:
        assert "420106-000123" in ticket.address


def test_a_request_without_description_takes_the_service_name(city, web, api_key):
    assert post_request(web, api_key, service_code="water-outage", **WHERE).status_code == 200

    assert Ticket.objects.get().description == "停水"


def test_a_phone_number_we_cannot_call_stays_in_the_raw_form_only(city, web, api_key):
    post_request(web, api_key, service_code="water-outage", phone="+44 20 7946 0958", **WHERE)

    assert Ticket.objects.get().reporter_phone == ""
    assert json.loads(InboundMessage.objects.get().raw)["form"]["phone"] == ["+44 20 7946 0958"]


TRICKY = (
    "水管爆了💧🚰 \u202eتم الإبلاغ\u202c zero\u200bwidth\u200d <script>alert('x')</script> & "
    "'; DROP TABLE tickets_ticket; -- \"quoted\" ]]> &amp;"
)


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_any_text_is_stored_verbatim_and_comes_back_escaped(city, web, api_key, fmt):
    post_request(web, api_key, service_code="water-outage", description=TRICKY, address_string=TRICKY[:100], **WHERE)
    ticket = Ticket.objects.get()
    assert ticket.description == TRICKY and ticket.address == TRICKY[:100]

    response = web.get(f"{BASE}/requests/{ticket.number}.{fmt}", {"api_key": api_key})

    if fmt == "json":
        [request] = json_of(response)
    else:
        assert b"<script>" not in response.content and b"&lt;script&gt;" in response.content
        request = children(xml_of(response)[0])
    assert request["description"] == TRICKY
    assert request["address"] == TRICKY[:100]


def test_control_characters_never_make_the_xml_unreadable(city, web, api_key):
    post_request(web, api_key, service_code="water-outage", description="bell\x07 and vt\x0b here", **WHERE)
    number = Ticket.objects.get().number

    response = web.get(f"{BASE}/requests/{number}.xml", {"api_key": api_key})

    assert children(xml_of(response)[0])["description"] == "bell\ufffd and vt\ufffd here"


# (what is wrong, the form's fields beyond the key, the status, a word the error names)
BAD = [
    ("unknown service", {"service_code": "no-such", **WHERE}, 400, "service_code"),
    ("no service", {"description": "x", **WHERE}, 400, "service_code"),
    ("a group is no service", {"service_code": "water", **WHERE}, 400, "service_code"),
    ("no location", {"service_code": "water-outage"}, 400, "lat"),
    ("lat alone", {"service_code": "water-outage", "lat": "30.5"}, 400, "long"),
    ("long alone", {"service_code": "water-outage", "long": "114.3", "address_string": "x"}, 400, "lat"),
    ("lat out of range", {"service_code": "water-outage", "lat": "91", "long": "114.3"}, 400, "lat"),
    ("long out of range", {"service_code": "water-outage", "lat": "30", "long": "-180.5"}, 400, "long"),
    ("long not a number", {"service_code": "water-outage", "lat": "30", "long": "east"}, 400, "long"),
    ("lat not finite", {"service_code": "water-outage", "lat": "NaN", "long": "114"}, 400, "lat"),
    ("required attribute missing", {"service_code": "street-light", **WHERE}, 400, "attribute[kind]"),
    ("choice not offered", {"service_code": "street-light", "attribute[kind]": "purple", **WHERE}, 400,
     "attribute[kind]"),
    ("two answers to one choice", {"service_code": "street-light", "attribute[kind]": ["dark", "flicker"], **WHERE},
     400, "attribute[kind]"),
    ("a choice not offered among several", {
        "service_code": "street-light", "attribute[kind]": "dark", "attribute[parts][]": ["lamp", "roof"], **WHERE,
    }, 400, "attribute[parts]"),
    ("number not a number", {"service_code": "street-light", "attribute[kind]": "dark", "attribute[area]": "big",
                             **WHERE}, 400, "attribute[area]"),
    ("datetime not a datetime", {"service_code": "street-light", "attribute[kind]": "dark",
                                 "attribute[seen_at]": "last Tuesday", **WHERE}, 400, "attribute[seen_at]"),
    ("string too long", {"service_code": "street-light", "attribute[kind]": "dark",
                         "attribute[pole_number]": "x" * 1001, **WHERE}, 400, "attribute[pole_number]"),
    ("description too long", {"service_code": "water-outage", "description": "长" * 5001, **WHERE}, 400,
     "description"),
    ("media_url not a web address", {"service_code": "water-outage", "media_url": "javascript:alert(1)", **WHERE},
     400, "media_url"),
]


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize(("case", "fields", "status", "names"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_the_spec_error_and_creates_nothing(city, web, api_key, fmt, case, fields, status, names):
    response = post_request(web, api_key, fmt, fields)

    assert response.status_code == status, response.content
    errors = errors_of(response, fmt)
    assert errors and all(e["code"] == status for e in errors)
    assert any(names in e["description"] for e in errors), errors
    assert not Ticket.objects.exists() and not InboundMessage.objects.exists()


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("key", ["", "not-a-key", "revoked"])
def test_a_missing_unknown_or_revoked_api_key_is_403_and_creates_nothing(city, web, api_key, fmt, key):
    if key == "revoked":
        open311_key_revoke(key_id=Open311Key.objects.get().pk)
        key = api_key

    response = post_request(web, key, fmt, service_code="water-outage", **WHERE)

    assert response.status_code == 403
    assert errors_of(response, fmt)[0]["code"] == 403
    assert not Ticket.objects.exists() and not InboundMessage.objects.exists()


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_body_over_64_kib_is_413_in_the_spec_format_and_creates_nothing(city, web, api_key, fmt):
    response = post_request(web, api_key, fmt, service_code="water-outage", description="x" * 70_000, **WHERE)

    assert response.status_code == 413
    assert errors_of(response, fmt)[0]["code"] == 413
    assert not Ticket.objects.exists()


def test_posting_needs_no_csrf_token_nor_session(city, api_key):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(f"{BASE}/requests.json", f"api_key={api_key}&service_code=water-outage&lat=30&long=114",
                           content_type=FORM)

    assert response.status_code == 200
    assert "sessionid" not in response.cookies


def test_each_key_may_post_at_its_rate_then_gets_429(city, web, api_key, other_key, settings):
    settings.MINHU_OPEN311_RATE = "2/m"

    statuses = [post_request(web, api_key, service_code="water-outage", **WHERE).status_code for _ in range(3)]
    limited = post_request(web, api_key, "xml", service_code="water-outage", **WHERE)

    assert statuses == [200, 200, 429]
    assert limited.status_code == 429 and errors_of(limited, "xml")[0]["code"] == 429
    assert limited["Retry-After"] == "60"
    assert Ticket.objects.count() == 2
    assert post_request(web, other_key, service_code="water-outage", **WHERE).status_code == 200


def test_two_identical_posts_are_two_requests(city, web, api_key):
    # The spec makes no POST idempotent; each answer carries its own number and token.
    first = json_of(post_request(web, api_key, service_code="water-outage", **WHERE))[0]
    second = json_of(post_request(web, api_key, service_code="water-outage", **WHERE))[0]

    assert first["service_request_id"] != second["service_request_id"]
    assert first["token"] != second["token"]
