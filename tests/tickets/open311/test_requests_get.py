"""GET requests, requests/{id} and tokens/{token}: the spec's fields, statuses, filters, limits and privacy."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import make_city, make_ticket
from tests.tickets.open311.conftest import (
    BASE,
    REQUEST_FIELDS,
    errors_of,
    items_of,
    json_of,
    make_service_with_questions,
    post_request,
)
from tickets import services
from tickets.models import State, Ticket

WHERE = {"lat": "30.546712", "long": "114.341129"}


def _requests(response, fmt: str) -> list[dict]:
    return items_of(response, fmt, "service_requests", "request")


def _one(web, number: str, fmt: str = "json", **params) -> dict:
    [request] = _requests(web.get(f"{BASE}/requests/{number}.{fmt}", params), fmt)
    return request


def _sent(web, api_key: str, **fields) -> Ticket:
    """Return the ticket an Open311 POST with this key opened."""
    response = post_request(web, api_key, **{"service_code": "water-outage", **WHERE, **fields})
    return Ticket.objects.get(number=json_of(response)[0]["service_request_id"])


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_requests_carry_exactly_the_spec_fields(city, web, fmt):
    make_ticket(city, State.DISPATCHED)
    make_ticket(city)

    requests = _requests(web.get(f"{BASE}/requests.{fmt}"), fmt)

    assert len(requests) == 2
    assert all(set(r) == REQUEST_FIELDS for r in requests)


@pytest.mark.parametrize(("state", "status"), [
    (State.REPORTED, "open"), (State.ACCEPTED, "open"), (State.DISPATCHED, "open"), (State.IN_PROGRESS, "open"),
    (State.RESOLVED, "open"), (State.AWAITING_FEEDBACK, "open"), (State.CLOSED, "closed"),
    (State.ARCHIVED, "closed"), (State.REJECTED, "closed"), (State.MERGED, "closed"),
])
def test_each_state_reads_as_the_specs_open_or_closed(city, web, state, status):
    ticket = make_ticket(city, state)

    for fmt in ("xml", "json"):
        assert _one(web, ticket.number, fmt)["status"] == status


def test_a_request_follows_its_ticket_through_the_closed_loop(city, web, api_key):
    ticket = _sent(web, api_key)
    seen = _one(web, ticket.number, api_key=api_key)
    assert (seen["status"], seen["agency_responsible"], seen["expected_datetime"]) == ("open", "", None)
    assert seen["requested_datetime"] == timezone.localtime(ticket.reported_at).isoformat(timespec="seconds")
    assert seen["requested_datetime"].endswith("+08:00")

    services.ticket_accept(ticket_id=ticket.id, actor=city.dispatcher)
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher)
    ticket.refresh_from_db()
    seen = _one(web, ticket.number, "xml", api_key=api_key)
    assert seen["agency_responsible"] == "水务集团"
    assert seen["expected_datetime"] == timezone.localtime(ticket.resolve_due_at).isoformat(timespec="seconds")
    assert seen["updated_datetime"] == timezone.localtime(ticket.updated_at).isoformat(timespec="seconds")

    services.ticket_claim(ticket_id=ticket.id, actor=city.handler)
    services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply="已抢修，恢复供水")
    assert _one(web, ticket.number, api_key=api_key)["status_notes"] == ""  # not verified yet

    services.ticket_verify(ticket_id=ticket.id, actor=city.dispatcher)
    seen = _one(web, ticket.number, api_key=api_key)
    assert (seen["status"], seen["status_notes"], seen["expected_datetime"]) == ("open", "已抢修，恢复供水", None)

    services.ticket_rate(ticket_id=ticket.id, actor=city.operator, rating="satisfied")
    seen = _one(web, ticket.number, api_key=api_key)
    assert (seen["status"], seen["status_notes"]) == ("closed", "已抢修，恢复供水")


def test_a_rejected_request_gives_its_reason_and_a_merged_one_its_ticket(city, web, api_key):
    rejected = _sent(web, api_key)
    services.ticket_reject(ticket_id=rejected.id, actor=city.dispatcher, reason="不属于本市管辖")
    merged, into = make_ticket(city), make_ticket(city)
    services.ticket_merge(ticket_id=merged.id, into_id=into.id, actor=city.dispatcher)

    assert _one(web, rejected.number, api_key=api_key)["status_notes"] == "不属于本市管辖"
    services.ticket_archive(ticket_id=rejected.id, actor=city.dispatcher)
    assert _one(web, rejected.number, api_key=api_key)["status_notes"] == "不属于本市管辖"
    assert _one(web, merged.number)["status_notes"] == f"Merged into {into.number}"


def test_what_was_written_about_a_request_goes_only_to_the_client_that_sent_it(city, web, api_key, other_key):
    ticket = _sent(web, api_key, description="我家老人独居，水管漏水", address_string="中南路 1 号 3 楼",
                   first_name="王", last_name="小明", phone="13800138000", email="wang@example.org",
                   media_url="https://fms.example.org/p/1.jpeg")
    services.ticket_reject(ticket_id=ticket.id, actor=city.dispatcher, reason="王小明已撤回")

    own = _one(web, ticket.number, api_key=api_key)
    assert own["description"] == "我家老人独居，水管漏水"
    assert own["address"] == "中南路 1 号 3 楼"
    assert (own["lat"], own["long"]) == (30.546712, 114.341129)
    assert own["media_url"] == "https://fms.example.org/p/1.jpeg"
    assert own["status_notes"] == "王小明已撤回"
    for params in ({}, {"api_key": other_key}):
        for fmt in ("xml", "json"):
            response = web.get(f"{BASE}/requests/{ticket.number}.{fmt}", params)
            [seen] = _requests(response, fmt)
            assert (seen["description"], seen["address"], seen["status_notes"], seen["media_url"]) == ("",) * 4
            assert str(seen["lat"]) == "30.547" and str(seen["long"]) == "114.341"
            assert "小明" not in response.content.decode()
        listed = web.get(f"{BASE}/requests.json", params).content.decode()
        assert "小明" not in listed and "老人" not in listed and "1 号" not in listed
    for response in (web.get(f"{BASE}/requests.xml", {"api_key": api_key}),
                     web.get(f"{BASE}/servicerequestupdates.json", {"api_key": api_key})):
        body = response.content.decode()
        assert "13800138000" not in body and "wang@example.org" not in body and "王 小明" not in body


def test_without_dates_the_last_90_days_are_listed_and_a_wider_window_is_refused(city, web):
    now = timezone.now()
    old = make_ticket(city, reported_at=now - dt.timedelta(days=100))
    recent = make_ticket(city, reported_at=now - dt.timedelta(days=80))

    listed = [r["service_request_id"] for r in json_of(web.get(f"{BASE}/requests.json"))]
    assert listed == [recent.number]
    window = {"start_date": "{:%Y-%m-%d}".format(now - dt.timedelta(days=101)),
              "end_date": (now - dt.timedelta(days=20)).isoformat()}
    listed = [r["service_request_id"] for r in json_of(web.get(f"{BASE}/requests.json", window))]
    assert listed == [recent.number, old.number]
    only_start = {"start_date": (now - dt.timedelta(days=101)).isoformat()}  # its 90 days from then
    assert [r["service_request_id"] for r in json_of(web.get(f"{BASE}/requests.json", only_start))] == [
        recent.number, old.number,
    ]
    too_wide = web.get(f"{BASE}/requests.xml", {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"})
    assert too_wide.status_code == 400 and "90 days" in errors_of(too_wide, "xml")[0]["description"]


@pytest.mark.parametrize("params", [
    {"start_date": "yesterday"},
    {"end_date": "2026-13-01T00:00:00Z"},
    {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
    {"status": "pending"},
    {"page": "0"},
    {"page": "two"},
    {"page_size": "1001"},
    {"page_size": "-5"},
])
def test_bad_query_parameters_are_400(city, web, params):
    for fmt in ("xml", "json"):
        response = web.get(f"{BASE}/requests.{fmt}", params)
        assert response.status_code == 400
        assert errors_of(response, fmt)[0]["code"] == 400


def test_dates_accept_an_offset_whose_plus_arrived_as_a_space(city, web):
    ticket = make_ticket(city)
    day = timezone.localtime(ticket.reported_at)
    start = (day - dt.timedelta(hours=1)).isoformat(timespec="seconds")

    response = web.get(f"{BASE}/requests.json?start_date={start.replace('+', ' ')}")

    assert [r["service_request_id"] for r in json_of(response)] == [ticket.number]


def test_pages_walk_the_requests_newest_first(city, web):
    now = timezone.now()
    tickets = [make_ticket(city, reported_at=now - dt.timedelta(hours=h)) for h in range(5)]
    numbers = [t.number for t in tickets]  # newest first already

    def page(**params):
        return [r["service_request_id"] for r in json_of(web.get(f"{BASE}/requests.json", params))]

    assert page() == numbers
    assert page(page_size="2") == numbers[:2]
    assert page(page_size="2", page="2") == numbers[2:4]
    assert page(page_size="2", page="3") == numbers[4:]
    assert page(page_size="2", page="4") == []


def test_at_most_1000_requests_come_back_in_a_bounded_number_of_queries(city, web, django_assert_max_num_queries):
    now = timezone.now()
    Ticket.objects.bulk_create(
        Ticket(number=f"26010{i:08d}", channel="web", category=city.category, description=f"第{i}件",
               access_code_hash="-", reported_at=now - dt.timedelta(minutes=i))
        for i in range(1001)
    )

    with django_assert_max_num_queries(3):
        first = json_of(web.get(f"{BASE}/requests.json"))
    second = json_of(web.get(f"{BASE}/requests.json", {"page": "2"}))

    assert len(first) == 1000 and first[0]["service_request_id"] == "2601000000000"
    assert [r["service_request_id"] for r in second] == ["2601000001000"]


def test_service_request_ids_override_the_other_filters(city, web):
    old = make_ticket(city, State.CLOSED, reported_at=timezone.now() - dt.timedelta(days=200))
    recent = make_ticket(city)

    response = web.get(f"{BASE}/requests.json", {
        "service_request_id": f"{recent.number}, {old.number},0000000000000", "status": "open",
        "service_code": "street-light",
    })

    assert [r["service_request_id"] for r in json_of(response)] == [recent.number, old.number]


def test_service_code_and_status_filter_the_list(city, web):
    light = make_service_with_questions()
    closed = make_ticket(city, State.CLOSED)
    opened = make_ticket(city)
    lamp, _code = services.ticket_create(category=light, description="路灯", channel="web")

    def listed(**params):
        return {r["service_request_id"] for r in json_of(web.get(f"{BASE}/requests.json", params))}

    assert listed(service_code="water-outage") == {closed.number, opened.number}
    assert listed(service_code="street-light,water-outage") == {closed.number, opened.number, lamp.number}
    assert listed(status="closed") == {closed.number}
    assert listed(status="open", service_code="water-outage") == {opened.number}
    assert listed(status="OPEN,closed") == {closed.number, opened.number, lamp.number}
    assert listed(service_code="no-such") == set()


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_an_unknown_request_is_404(city, web, fmt):
    response = web.get(f"{BASE}/requests/2611240000999.{fmt}")

    assert response.status_code == 404
    assert errors_of(response, fmt)[0]["code"] == 404


def test_a_bad_api_key_on_a_read_is_403(city, web):
    ticket = make_ticket(city)

    for path in (f"requests/{ticket.number}.json", "requests.json", "servicerequestupdates.json"):
        response = web.get(f"{BASE}/{path}", {"api_key": "guessed"})
        assert response.status_code == 403
        assert errors_of(response, "json")[0]["code"] == 403


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_token_finds_the_request_it_was_given_for(city, web, api_key, fmt):
    answer = json_of(post_request(web, api_key, service_code="water-outage", **WHERE))[0]

    [found] = _requests(web.get(f"{BASE}/tokens/{answer['token']}.{fmt}"), fmt)

    assert found == {"service_request_id": answer["service_request_id"], "token": answer["token"]}
    missing = web.get(f"{BASE}/tokens/0123456789abcdef.{fmt}")
    assert missing.status_code == 404 and errors_of(missing, fmt)[0]["code"] == 404


@pytest.fixture
def city(db):
    return make_city()
