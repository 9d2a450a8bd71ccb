"""GET /api/v1/tickets/: cursor pages, newest first, and every filter of the list."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import make_category, make_ticket
from tests.tickets.api.helpers import TICKETS, assert_error
from tickets.models import Channel, State


def _numbers(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["number"] for row in response.json()["results"]]


def test_list_is_a_cursor_page(city, api):
    make_ticket(city)

    body = api(city.dispatcher).get(TICKETS).json()

    assert set(body) == {"next", "previous", "results"}
    assert body["next"] is None and body["previous"] is None
    assert len(body["results"]) == 1


def test_following_next_walks_every_ticket_once_newest_first(city, api):
    tickets = [make_ticket(city) for _ in range(5)]
    client = api(city.dispatcher)

    seen, pages = [], []
    response = client.get(TICKETS, {"page_size": 2})
    while True:
        body = response.json()
        pages.append(body)
        seen += [row["number"] for row in body["results"]]
        if body["next"] is None:
            break
        response = client.get(body["next"])

    assert [len(page["results"]) for page in pages] == [2, 2, 1]
    assert pages[0]["previous"] is None
    assert all(page["previous"] for page in pages[1:])
    assert seen == [t.number for t in reversed(tickets)]
    assert len(set(seen)) == len(seen)


def test_previous_link_returns_to_the_first_page(city, api):
    for _ in range(3):
        make_ticket(city)
    client = api(city.dispatcher)
    first = client.get(TICKETS, {"page_size": 2}).json()

    second = client.get(first["next"]).json()
    back = client.get(second["previous"]).json()

    assert [r["number"] for r in back["results"]] == [r["number"] for r in first["results"]]


def test_default_page_is_25_tickets(city, api):
    for _ in range(26):
        make_ticket(city)

    body = api(city.dispatcher).get(TICKETS).json()

    assert len(body["results"]) == 25
    assert body["next"] is not None


def test_a_ticket_created_while_paging_does_not_shift_the_pages(city, api):
    old = [make_ticket(city) for _ in range(4)]
    client = api(city.dispatcher)
    first = client.get(TICKETS, {"page_size": 2}).json()

    make_ticket(city)
    second = client.get(first["next"]).json()

    assert [r["number"] for r in second["results"]] == [old[1].number, old[0].number]


def test_invalid_cursor_is_a_json_error(city, api):
    response = api(city.dispatcher).get(TICKETS, {"cursor": "not-a-cursor"})

    assert_error(response, 404)


def test_filter_by_one_state(city, api):
    reported = make_ticket(city, State.REPORTED)
    make_ticket(city, State.ACCEPTED)

    assert _numbers(api(city.dispatcher).get(TICKETS, {"state": "reported"})) == [reported.number]


def test_filter_by_a_comma_list_of_states(city, api):
    reported = make_ticket(city, State.REPORTED)
    dispatched = make_ticket(city, State.DISPATCHED)
    make_ticket(city, State.ACCEPTED)

    response = api(city.dispatcher).get(TICKETS, {"state": "reported, dispatched"})

    assert _numbers(response) == [dispatched.number, reported.number]


def test_unknown_state_is_refused_with_fields(city, api):
    body = assert_error(api(city.dispatcher).get(TICKETS, {"state": "reported,lost"}), 400)

    assert "state" in body["fields"]


def test_filter_by_unit(city, api):
    make_ticket(city, State.DISPATCHED)
    other = make_ticket(city, State.DISPATCHED, unit=city.other_bureau)

    assert _numbers(api(city.dispatcher).get(TICKETS, {"unit": "power-supply"})) == [other.number]


def test_filter_by_several_units(city, api):
    bureau = make_ticket(city, State.DISPATCHED)
    other = make_ticket(city, State.DISPATCHED, unit=city.other_bureau)
    make_ticket(city, State.DISPATCHED, unit=city.street)

    response = api(city.dispatcher).get(TICKETS, {"unit": "water-group,power-supply"})

    assert _numbers(response) == [other.number, bureau.number]


def test_unknown_unit_is_refused_with_fields(city, api):
    body = assert_error(api(city.dispatcher).get(TICKETS, {"unit": "water-group,atlantis"}), 400)

    assert "unit" in body["fields"]


def test_filter_by_category(city, api):
    other_category = make_category(code="water-quality", default_unit=city.bureau)
    make_ticket(city)
    city.category = other_category
    quality = make_ticket(city)

    response = api(city.dispatcher).get(TICKETS, {"category": "water-quality"})

    assert _numbers(response) == [quality.number]


def test_unknown_category_is_refused_with_fields(city, api):
    body = assert_error(api(city.dispatcher).get(TICKETS, {"category": "ufo-sighting"}), 400)

    assert "category" in body["fields"]


def test_filter_by_channel(city, api):
    make_ticket(city, channel=Channel.PHONE)
    staff = make_ticket(city, channel=Channel.STAFF)

    assert _numbers(api(city.dispatcher).get(TICKETS, {"channel": "staff"})) == [staff.number]


def test_unknown_channel_is_refused_with_fields(city, api):
    body = assert_error(api(city.dispatcher).get(TICKETS, {"channel": "fax"}), 400)

    assert "channel" in body["fields"]


@pytest.fixture
def by_sla(city):
    """Tickets waiting for acceptance (2 hours) reported long ago, lately and just now."""
    now = timezone.now()
    return {
        "breached": make_ticket(city, reported_at=now - dt.timedelta(hours=3)),
        "warning": make_ticket(city, reported_at=now - dt.timedelta(minutes=110)),
        "ok": make_ticket(city, reported_at=now - dt.timedelta(minutes=10)),
    }


@pytest.mark.parametrize("sla", ["ok", "warning", "breached"])
def test_filter_by_sla(city, api, by_sla, sla):
    response = api(city.dispatcher).get(TICKETS, {"sla": sla})

    assert _numbers(response) == [by_sla[sla].number]
    assert response.json()["results"][0]["sla"] == sla


def test_unknown_sla_is_refused_with_fields(city, api):
    body = assert_error(api(city.dispatcher).get(TICKETS, {"sla": "red"}), 400)

    assert "sla" in body["fields"]


def test_filter_by_report_time_range(city, api):
    now = timezone.now()
    make_ticket(city, reported_at=now - dt.timedelta(days=3))
    middle = make_ticket(city, reported_at=now - dt.timedelta(days=2))
    make_ticket(city, reported_at=now - dt.timedelta(hours=1))

    response = api(city.dispatcher).get(
        TICKETS,
        {
            "reported_after": (now - dt.timedelta(days=2, hours=1)).isoformat(),
            "reported_before": (now - dt.timedelta(days=1)).isoformat(),
        },
    )

    assert _numbers(response) == [middle.number]


def test_filter_by_report_time_with_a_local_offset(city, api):
    now = timezone.now()
    old = make_ticket(city, reported_at=now - dt.timedelta(days=2))
    make_ticket(city)
    before = timezone.localtime(now - dt.timedelta(days=1)).isoformat()
    assert before.endswith("+08:00")

    assert _numbers(api(city.dispatcher).get(TICKETS, {"reported_before": before})) == [old.number]


def test_inverted_report_time_range_is_refused(city, api):
    now = timezone.now()

    response = api(city.dispatcher).get(
        TICKETS,
        {
            "reported_after": now.isoformat(),
            "reported_before": (now - dt.timedelta(days=1)).isoformat(),
        },
    )

    body = assert_error(response, 400)
    assert "fields" in body


def test_report_time_that_is_not_a_time_is_refused(city, api):
    body = assert_error(api(city.dispatcher).get(TICKETS, {"reported_after": "yesterday"}), 400)

    assert "reported_after" in body["fields"]


def test_search_by_exact_ticket_number(city, api):
    wanted = make_ticket(city)
    make_ticket(city)

    assert _numbers(api(city.dispatcher).get(TICKETS, {"q": wanted.number})) == [wanted.number]


def test_search_by_chinese_text_of_the_description(city, api):
    wanted = make_ticket(city, description="和平大道路灯不亮已经三天")
    make_ticket(city, description="小区停水")

    assert _numbers(api(city.dispatcher).get(TICKETS, {"q": "路灯不亮"})) == [wanted.number]


def test_search_by_address_text(city, api):
    wanted = make_ticket(city, address="武昌区中南路99号")
    make_ticket(city, address="汉口解放大道1号")

    assert _numbers(api(city.dispatcher).get(TICKETS, {"q": "中南路"})) == [wanted.number]


def test_search_by_reporter_phone(city, api):
    wanted = make_ticket(city, reporter_phone="13912345678")
    make_ticket(city)

    assert _numbers(api(city.dispatcher).get(TICKETS, {"q": "13912345678"})) == [wanted.number]


def test_search_by_reporter_phone_written_with_separators(city, api):
    wanted = make_ticket(city, reporter_phone="13912345678")
    make_ticket(city)

    assert _numbers(api(city.dispatcher).get(TICKETS, {"q": "139-1234-5678"})) == [wanted.number]


def test_search_with_no_match_is_an_empty_page(city, api):
    make_ticket(city)

    body = api(city.dispatcher).get(TICKETS, {"q": "没有这样的内容"}).json()

    assert body == {"next": None, "previous": None, "results": []}


def test_filters_combine(city, api):
    wanted = make_ticket(city, State.DISPATCHED, description="水管爆裂")
    make_ticket(city, State.REPORTED, description="水管爆裂")
    make_ticket(city, State.DISPATCHED, description="路灯不亮")

    response = api(city.dispatcher).get(TICKETS, {"state": "dispatched", "q": "水管"})

    assert _numbers(response) == [wanted.number]


def test_search_by_reporter_phone_with_the_plus_86_prefix(city, api):
    wanted = make_ticket(city, reporter_phone="13912345678")
    make_ticket(city)

    response = api(city.dispatcher).get(TICKETS, {"q": "+86 139 1234 5678"})

    assert _numbers(response) == [wanted.number]


def test_search_by_reporter_phone_with_the_0086_prefix(city, api):
    wanted = make_ticket(city, reporter_phone="13912345678")
    make_ticket(city)

    response = api(city.dispatcher).get(TICKETS, {"q": "008613912345678"})

    assert _numbers(response) == [wanted.number]


def test_a_report_date_window_pages_by_report_time_without_gaps_or_repeats(city, api):
    from tickets import services

    base = timezone.now() - dt.timedelta(days=30)
    # Created out of time order, so id order and report order disagree.
    for hours in [5, 1, 4, 2, 3, 0, 6]:
        services.ticket_create(
            category=city.category, description=f"窗口{hours}", channel="staff",
            reported_at=base + dt.timedelta(hours=hours),
        )
    params = {
        "reported_after": (base + dt.timedelta(minutes=30)).isoformat(),
        "reported_before": (base + dt.timedelta(hours=5, minutes=30)).isoformat(),
        "page_size": 2,
    }
    client, seen, url = api(city.dispatcher), [], TICKETS
    page = client.get(url, params).json()
    seen += page["results"]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += page["results"]
    assert [t["description"] for t in seen] == ["窗口5", "窗口4", "窗口3", "窗口2", "窗口1"]
