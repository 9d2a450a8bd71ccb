"""Likely duplicates: each rule and its limits, who sees them, merging from them, and who hears the result."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone, translation

from tests.factories import advance_ticket, make_category, make_ticket
from tests.tickets.admin.helpers import change_url
from tickets import services
from tickets.duplicates import (
    haversine_meters,
    likely_originals,
    likely_originals_for,
    normalized_address,
    possible_duplicate_ids,
)
from tickets.models import Channel, Notification, State, Ticket
from tickets.selectors import merge_carrier

pytestmark = pytest.mark.django_db

# A point in Wuchang, and offsets of about 100 m and 1 km to its north.
LAT, LNG = 30.540000, 114.330000
ABOUT_100_M, ABOUT_1_KM = 0.0009, 0.009


def report(city, *, description: str, phone: str = "", category=None, ago: dt.timedelta = dt.timedelta(0),
           **fields) -> Ticket:
    ticket, _code = services.ticket_create(
        category=category or city.category, description=description, channel=Channel.WEB,
        reporter_phone=phone, reported_at=timezone.now() - ago, **fields,
    )
    return ticket


def originals(ticket: Ticket) -> dict[str, list[str]]:
    return {original.ticket.number: original.reasons for original in likely_originals(ticket)}


@pytest.fixture(autouse=True)
def _english():
    # The reasons are read as the desk shows them to an English-speaking dispatcher.
    with translation.override("en"):
        yield


# -- rule 1: the same reporter within a day ---------------------------------------------------


def test_the_same_phone_within_a_day_is_a_likely_original(city):
    first = report(city, description="小区停水一整天了", phone="13900001111", ago=dt.timedelta(hours=20))
    again = report(city, description="请问什么时候来水", phone="13900001111")
    found = originals(again)
    assert list(found) == [first.number]
    assert found[first.number] == ["The same reporter's phone, 20 hours apart."]


def test_the_same_phone_more_than_a_day_apart_is_not(city):
    report(city, description="小区停水一整天了", phone="13900001111", ago=dt.timedelta(hours=25))
    again = report(city, description="请问什么时候来水", phone="13900001111")
    assert originals(again) == {}


def test_no_phone_matches_no_phone(city):
    report(city, description="路灯不亮")
    assert originals(report(city, description="井盖缺失")) == {}


def test_the_reporter_window_follows_its_setting(city, settings):
    settings.MINHU_DUPLICATE_REPORTER_HOURS = 48
    first = report(city, description="小区停水一整天了", phone="13900001111", ago=dt.timedelta(hours=30))
    assert list(originals(report(city, description="请问什么时候来水", phone="13900001111"))) == [first.number]


# -- rule 2: the same category near the same place -------------------------------------------


def test_the_same_category_a_hundred_metres_away_is_a_likely_original(city):
    first = report(city, description="水管爆裂", lat=LAT, lng=LNG, ago=dt.timedelta(days=3))
    near = report(city, description="路面冒水", lat=LAT + ABOUT_100_M, lng=LNG)
    found = originals(near)
    assert list(found) == [first.number]
    assert found[first.number] == ["The same category, 100 m away."]


def test_a_kilometre_away_another_category_or_a_week_earlier_is_not(city):
    power = make_category(code="power-outage", default_unit=city.other_bureau)
    report(city, description="水管爆裂", lat=LAT + ABOUT_1_KM, lng=LNG)
    report(city, description="停电了", category=power, lat=LAT, lng=LNG)
    report(city, description="水压很低", lat=LAT, lng=LNG, ago=dt.timedelta(days=8))
    assert originals(report(city, description="路面冒水", lat=LAT, lng=LNG)) == {}


def test_a_corner_of_the_bounding_box_beyond_the_radius_is_not(city):
    # 250 m north and 250 m east: inside the 300 m box, about 354 m away.
    north, east = 250 / 111_320, 250 / 111_320 / 0.861
    report(city, description="水管爆裂", lat=LAT + north, lng=LNG + east)
    assert originals(report(city, description="路面冒水", lat=LAT, lng=LNG)) == {}


def test_the_same_address_written_differently_is_a_likely_original(city):
    first = report(city, description="水管爆裂", address="武昌区 中南路18号。")
    found = originals(report(city, description="路面冒水", address="武昌区中南路18号"))
    assert found == {first.number: ["The same category at the same address."]}


def test_another_address_is_not(city):
    report(city, description="水管爆裂", address="汉口解放大道1号")
    assert originals(report(city, description="路面冒水", address="武昌区中南路18号")) == {}


def test_addresses_are_compared_without_spaces_punctuation_case_or_width():
    assert normalized_address(" 中南路１８号, Block-A ") == normalized_address("中南路18号blocka")
    assert normalized_address("") == ""


def test_the_distance_is_the_great_circle_one():
    assert round(haversine_meters(LAT, LNG, LAT + ABOUT_100_M, LNG)) == 100


# -- rule 3: a very similar description ----------------------------------------------------


def test_a_very_similar_description_is_a_likely_original(city):
    first = report(city, description="光谷大道128号附近水管爆裂，路面大量积水", ago=dt.timedelta(days=2))
    found = originals(report(city, description="光谷大道128号附近水管爆裂了，路面积水"))
    assert list(found) == [first.number]
    assert found[first.number][0].startswith("A very similar description (")


def test_an_unrelated_description_is_not(city):
    report(city, description="光谷大道128号附近水管爆裂，路面大量积水")
    assert originals(report(city, description="小区门口井盖缺失，存在安全隐患")) == {}


# -- which tickets may be originals ------------------------------------------------------------


@pytest.mark.parametrize("state", [State.CLOSED, State.REJECTED, State.MERGED, State.ARCHIVED])
def test_a_finished_or_merged_ticket_is_never_an_original(city, state):
    gone = make_ticket(city, description="小区停水一整天了", reporter_phone="13900001111")
    advance_ticket(city, gone, state)
    again = report(city, description="请问什么时候来水", phone="13900001111")
    assert gone.number not in originals(again)


@pytest.mark.parametrize("state", [State.DISPATCHED, State.IN_PROGRESS, State.AWAITING_FEEDBACK])
def test_a_ticket_already_with_a_unit_is_an_original(city, state):
    first = make_ticket(city, state, description="小区停水一整天了", reporter_phone="13900001111")
    assert list(originals(report(city, description="请问什么时候来水", phone="13900001111"))) == [first.number]


def test_a_ticket_is_never_its_own_original(city):
    ticket = report(city, description="水管爆裂", phone="13900001111", address="中南路18号", lat=LAT, lng=LNG)
    assert originals(ticket) == {}


def test_several_rules_add_up_and_the_surest_comes_first(city):
    place_only = report(city, description="路面冒水", address="中南路18号", ago=dt.timedelta(hours=3))
    both = report(city, description="水管爆裂", phone="13900001111", address="中南路18号",
                  ago=dt.timedelta(hours=2))
    found = likely_originals(report(city, description="水压很低", phone="13900001111", address="中南路18号"))
    assert [o.ticket.number for o in found] == [both.number, place_only.number]
    assert len(found[0].reasons) == 2 and found[0].score > found[1].score


# -- who sees them -------------------------------------------------------------------------------


def test_only_the_centre_sees_likely_originals_and_only_while_the_ticket_waits(city):
    first = report(city, description="小区停水一整天了", phone="13900001111")
    again = report(city, description="请问什么时候来水", phone="13900001111")
    assert [o.ticket for o in likely_originals_for(city.dispatcher, again)] == [first]
    assert [o.ticket for o in likely_originals_for(city.operator, again)] == [first]
    for user in (city.handler, city.supervisor, city.outsider):
        assert likely_originals_for(user, again) == []
    dispatched = advance_ticket(city, again, State.DISPATCHED)
    assert likely_originals_for(city.dispatcher, dispatched) == []


def test_the_desk_panel_lists_likely_originals_with_a_merge_button(browse, city):
    first = report(city, description="小区停水一整天了", phone="13900001111", address="中南路18号")
    again = report(city, description="请问什么时候来水", phone="13900001111")
    client = browse(city.dispatcher)
    html = client.get(f"/desk/tickets/{again.number}/").content.decode()
    assert "Possible duplicates" in html
    assert f'data-merge-into="{first.number}"' in html
    assert f'href="?ticket={first.number}"' in html
    assert "The same reporter&#x27;s phone" in html
    # Without script, the desk shows the chosen ticket's list too, and marks the queue's row.
    desk = client.get(f"/desk/?ticket={again.number}")
    assert f'data-merge-into="{first.number}"' in desk.content.decode()
    assert desk.context["duplicate_ids"] == {first.id, again.id}
    assert "possible duplicate" in desk.content.decode()
    # The original's own panel, once dispatched, has no list to show.
    advance_ticket(city, first, State.DISPATCHED)
    assert "Possible duplicates" not in client.get(f"/desk/tickets/{first.number}/").content.decode()


def test_the_queue_marker_reads_the_reporter_rule_only(city):
    first = report(city, description="水管爆裂", phone="13900001111")
    again = report(city, description="请问什么时候来水", phone="13900001111")
    place = report(city, description="路面冒水", address="中南路18号")
    other = report(city, description="水压很低", address="中南路18号")
    assert possible_duplicate_ids([first, again, place, other]) == {first.id, again.id}


def test_the_admin_page_lists_likely_originals_for_the_centre_only(browse, city):
    first = make_ticket(city, State.DISPATCHED, description="小区停水一整天了", reporter_phone="13900001111")
    again = report(city, description="请问什么时候来水", phone="13900001111")
    html = browse(city.dispatcher).get(change_url(again)).content.decode()
    assert "Possible duplicates" in html
    assert f'href="{change_url(first)}"' in html
    assert f'name="merge-into" value="{first.number}"' in html
    # The unit sees the original (its own ticket) without any list on it.
    assert "Possible duplicates" not in browse(city.handler).get(change_url(first)).content.decode()


# -- merging from the list, and the result for every merged reporter ------------------------------


def test_the_merge_button_merges_through_the_staff_api(api, city):
    first = report(city, description="小区停水一整天了", phone="13900001111")
    again = report(city, description="请问什么时候来水", phone="13900001111")
    response = api(city.dispatcher).post(f"/api/v1/tickets/{again.number}/merge/", {"into": first.number},
                                         format="json")
    assert response.status_code == 200, response.content
    again.refresh_from_db()
    assert again.state == State.MERGED and again.merged_into == first


def test_the_admin_merge_button_merges(browse, city):
    first = report(city, description="小区停水一整天了", phone="13900001111")
    again = report(city, description="请问什么时候来水", phone="13900001111")
    response = browse(city.dispatcher).post(f"/admin/tickets/ticket/{again.id}/actions/merge/",
                                            {"merge-into": first.number})
    assert response.status_code == 302
    again.refresh_from_db()
    assert again.state == State.MERGED and again.merged_into == first


def test_every_reporter_merged_along_a_chain_hears_the_verified_result(city):
    carrier = make_ticket(city, description="小区停水一整天了", reporter_phone="13900000001")
    middle = make_ticket(city, description="请问什么时候来水", reporter_phone="13900000002")
    first_merged = make_ticket(city, description="水压很低", reporter_phone="13900000003")
    services.ticket_merge(ticket_id=first_merged.id, into_id=middle.id, actor=city.dispatcher)
    services.ticket_merge(ticket_id=middle.id, into_id=carrier.id, actor=city.dispatcher)
    advance_ticket(city, carrier, State.AWAITING_FEEDBACK)
    results = Notification.objects.filter(kind=Notification.Kind.RESULT)
    assert set(results.values_list("address", flat=True)) == {"13900000001", "13900000002", "13900000003"}
    merged_text = results.get(address="13900000003").body
    assert carrier.number in merged_text and "1满意" not in merged_text  # told, not asked to rate


def test_a_merged_reporters_tracking_page_names_the_ticket_that_carries_it_and_its_reply(city):
    carrier = make_ticket(city, description="小区停水一整天了", reporter_phone="13900000001")
    merged, code = services.ticket_create(category=city.category, description="请问什么时候来水",
                                          channel=Channel.WEB, reporter_phone="13900000002")
    services.ticket_merge(ticket_id=merged.id, into_id=carrier.id, actor=city.dispatcher)
    assert merge_carrier(Ticket.objects.get(id=merged.id)) == carrier
    assert merge_carrier(carrier) is None
    citizen = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = citizen.post(f"/track/{merged.number}/", {"code": code}, follow=True).content.decode()
    assert f"handled together with report {carrier.number}" in page
    advance_ticket(city, carrier, State.AWAITING_FEEDBACK)
    page = citizen.get(f"/track/{merged.number}/").content.decode()
    assert f"reply (report {carrier.number})" in page and "已处理" in page
