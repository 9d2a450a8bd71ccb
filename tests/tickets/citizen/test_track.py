"""The citizen's tracking page (/track/{number}/): behind the access code, public-safe only."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from tests.tickets.citizen.helpers import csrf_token, text_of
from tickets import services
from tickets.models import Channel, State

pytestmark = pytest.mark.django_db

PHONE, NAME = "13900139000", "王小明"


def _report(city, **fields):
    """Return a web ticket and its access code, as the report form makes them."""
    fields = {"description": "楼下水管爆裂", "address": "中南路1号", "reporter_phone": PHONE,
              "reporter_name": NAME, **fields}
    return services.ticket_create(category=city.category, channel=Channel.WEB, **fields)


def _open(client, ticket, code) -> str:
    response = client.post(f"/track/{ticket.number}/", {"code": code}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def _timeline(page: str) -> list[str]:
    return re.findall(r'<span class="what">(.*?)</span>', page)


def test_the_right_code_shows_the_state_and_the_public_timeline(citizen, city):
    ticket, code = _report(city)
    services.ticket_accept(ticket_id=ticket.id, actor=city.dispatcher)
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher)

    page = _open(citizen, ticket, code)

    assert 'data-state="dispatched"' in page and "Sent to the unit in charge" in page
    assert _timeline(page) == ["Report received", "Accepted by the hotline centre", "Sent to 水务集团"]
    assert "楼下水管爆裂" in page and "中南路1号" in page and city.category.name in page
    ticket.refresh_from_db()
    due = timezone.localtime(ticket.resolve_due_at).strftime("%Y-%m-%d %H:%M")
    assert "The unit's reply is due by" in page and due in page
    assert timezone.localtime(ticket.reported_at).strftime("%Y-%m-%d %H:%M") in page


def test_the_code_is_asked_for_in_a_form_and_never_in_the_address(citizen, city):
    ticket, _code = _report(city)

    response = citizen.get(f"/track/{ticket.number}/")

    page = response.content.decode()
    assert response.status_code == 200 and 'method="post"' in page and 'name="code"' in page
    assert "楼下水管爆裂" not in page


def test_the_browser_that_gave_the_code_sees_the_ticket_for_a_while_others_do_not(citizen, city):
    import time_machine

    ticket, code = _report(city)
    _open(citizen, ticket, code)

    assert "楼下水管爆裂" in citizen.get(f"/track/{ticket.number}/").content.decode()
    assert "楼下水管爆裂" not in Client().get(f"/track/{ticket.number}/").content.decode()
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1)):
        assert "楼下水管爆裂" not in citizen.get(f"/track/{ticket.number}/").content.decode()


def test_a_code_with_the_spaces_it_was_read_out_with_still_works(citizen, city):
    ticket, code = _report(city)

    assert "楼下水管爆裂" in _open(citizen, ticket, f" {code[:4]} {code[4:]} ")


def test_a_wrong_code_is_refused(citizen, city):
    ticket, code = _report(city)
    wrong = str((int(code) + 1) % 10**8).zfill(8)

    response = citizen.post(f"/track/{ticket.number}/", {"code": wrong})

    page = response.content.decode()
    assert response.status_code == 403
    assert "This number and access code do not match." in page
    assert 'aria-describedby="id_code_helptext id_code_error"' in page
    assert "楼下水管爆裂" not in page and "data-state" not in page


def test_an_unknown_number_gets_the_same_answer_as_a_wrong_code(citizen, city):
    ticket, _code = _report(city)
    unknown = str(int(ticket.number) + 1)

    wrong = citizen.post(f"/track/{ticket.number}/", {"code": "12345678"})
    missing = citizen.post(f"/track/{unknown}/", {"code": "12345678"})

    assert wrong.status_code == missing.status_code == 403
    assert text_of(wrong.content.decode()).replace(ticket.number, "N") == \
        text_of(missing.content.decode()).replace(unknown, "N")
    assert text_of(citizen.get(f"/track/{ticket.number}/").content.decode()).replace(ticket.number, "N") == \
        text_of(citizen.get(f"/track/{unknown}/").content.decode()).replace(unknown, "N")


def test_codes_for_one_number_are_throttled_even_from_many_clients(city):
    ticket, code = _report(city)

    for attempt in range(10):
        client = Client(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR=f"10.0.0.{attempt}")
        assert client.post(f"/track/{ticket.number}/", {"code": "00000000"}).status_code == 403

    late = Client(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR="10.0.1.1").post(f"/track/{ticket.number}/",
                                                                       {"code": code})
    assert late.status_code == 429
    assert "Too many tries" in late.content.decode() and "楼下水管爆裂" not in late.content.decode()


def test_codes_from_one_client_are_throttled_across_numbers(citizen, city):
    tickets = [_report(city) for _ in range(3)]

    for attempt in range(20):
        ticket, _code = tickets[attempt % 3]
        assert citizen.post(f"/track/{ticket.number}/", {"code": "00000000"}).status_code == 403

    ticket, code = tickets[0]
    assert citizen.post(f"/track/{ticket.number}/", {"code": code}).status_code == 429
    other = Client(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR="10.9.9.9")
    assert "楼下水管爆裂" in _open(other, *tickets[1])


def test_staff_names_internal_notes_and_phone_numbers_never_reach_the_page(citizen, city):
    d, h = city.dispatcher, city.handler
    for user, name in ((d, ("调度员", "赵")), (h, ("处理员", "钱")), (city.other_handler, ("办事员", "孙"))):
        user.first_name, user.last_name = name
        user.save()
    ticket, code = _report(city)
    services.ticket_accept(ticket_id=ticket.id, actor=d)
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.other_bureau, actor=d)
    services.ticket_claim(ticket_id=ticket.id, actor=city.other_handler)
    services.ticket_return(ticket_id=ticket.id, actor=city.other_handler, reason="other",
                           comment="内部退单说明：不归我们管")
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=d, final=True)
    services.ticket_claim(ticket_id=ticket.id, actor=h)
    services.ticket_pause(ticket_id=ticket.id, actor=h, reason="请提供漏水处照片",
                          until=timezone.now() + dt.timedelta(days=3))
    services.ticket_resume(ticket_id=ticket.id, actor=h, note="内部备注：照片已收到")
    ticket.refresh_from_db()
    services.ticket_request_extension(ticket_id=ticket.id, actor=h, reason="内部：需要协调物业",
                                      until=ticket.resolve_due_at + dt.timedelta(days=2))
    services.ticket_decide_extension(ticket_id=ticket.id, actor=d, approve=True, note="内部：同意延期")
    services.ticket_resolve(ticket_id=ticket.id, actor=h, reply="第一次答复：已派人查看")
    services.ticket_send_back(ticket_id=ticket.id, actor=d, reason="内部：答复不完整")
    services.ticket_resolve(ticket_id=ticket.id, actor=h, reply="已更换爆裂水管")

    page = _open(citizen, ticket, code)

    assert _timeline(page) == [
        "Report received", "Accepted by the hotline centre", "Sent to 供电公司", "供电公司 took it on",
        "Sent to 水务集团", "水务集团 took it on", "Material requested from you", "Handling resumed",
        "Deadline extended",
    ]
    assert "请提供漏水处照片" in page  # what the citizen is asked for is meant for them
    for secret in ("内部", "已派人查看", "已更换爆裂水管", PHONE, "139****9000", NAME,
                   "调度员", "处理员", "办事员", "dispatcher", "otherhandler"):
        assert secret not in page, secret
    assert 'data-state="resolved"' in page


def test_the_reply_is_shown_only_once_the_centre_has_verified_it(citizen, city):
    ticket, code = _report(city)
    for step in ("accept", "dispatch", "claim"):
        kwargs = {"unit": city.bureau} if step == "dispatch" else {}
        actor = city.handler if step == "claim" else city.dispatcher
        getattr(services, f"ticket_{step}")(ticket_id=ticket.id, actor=actor, **kwargs)
    services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply="已更换爆裂<水管>")
    before = _open(citizen, ticket, code)

    services.ticket_verify(ticket_id=ticket.id, actor=city.dispatcher)
    after = citizen.get(f"/track/{ticket.number}/").content.decode()

    assert "已更换爆裂" not in before
    assert 'id="reply-title"' in after and "已更换爆裂&lt;水管&gt;" in after
    assert "The hotline centre checked the unit&#x27;s reply" in _timeline(after)
    assert 'data-state="awaiting_feedback"' in after

    services.ticket_rate(ticket_id=ticket.id, actor=city.operator, rating="unsatisfied", comment=PHONE)
    reopened = citizen.get(f"/track/{ticket.number}/").content.decode()
    assert "已更换爆裂" not in reopened and PHONE not in reopened
    assert "Rated unsatisfied: the unit handles it again" in _timeline(reopened)


def test_a_rejection_gives_its_reason(citizen, city):
    ticket, code = _report(city)
    services.ticket_reject(ticket_id=ticket.id, actor=city.dispatcher, reason="不属于12345受理范围，请拨打110")

    page = _open(citizen, ticket, code)

    assert 'data-state="rejected"' in page and "Not accepted" in _timeline(page)
    assert "不属于12345受理范围，请拨打110" in page


def test_a_merged_report_says_so(citizen, city):
    ticket, code = _report(city)
    earlier, _ = _report(city, description="同一处水管爆裂")
    services.ticket_merge(ticket_id=ticket.id, into_id=earlier.id, actor=city.dispatcher)

    page = _open(citizen, ticket, code)

    assert "Merged into an earlier report of the same problem" in page
    # The number the result SMS names too; never the other citizen's words.
    assert f"handled together with report {earlier.number}" in page and "同一处水管爆裂" not in page


def test_a_closed_ticket_shows_the_rating(citizen, city):
    from tests.factories import make_ticket

    ticket = make_ticket(city, State.CLOSED, channel=Channel.WEB)
    code = "24681357"
    ticket.set_access_code(code)
    ticket.save(update_fields=["access_code_hash"])

    page = _open(citizen, ticket, code)

    assert "Rated: satisfied" in _timeline(page) and 'data-state="closed"' in page
    assert "已处理" in page  # the verified reply


def test_the_code_form_needs_its_csrf_token(guarded, city):
    ticket, code = _report(city)
    guarded.get(f"/track/{ticket.number}/")

    response = guarded.post(f"/track/{ticket.number}/", {"code": code, "csrfmiddlewaretoken": "x" * 64})

    assert response.status_code == 403 and "The form has expired" in response.content.decode()
    assert "楼下水管爆裂" not in response.content.decode()


def test_a_number_typed_on_the_report_page_leads_to_its_tracking_page(citizen, city):
    response = citizen.get("/track/", {"number": " 2611 2400 00123 "})

    assert response.status_code == 302 and response["Location"] == "/track/2611240000123/"
    assert citizen.get("/track/", {"number": ""}).status_code == 400


def test_the_language_switch_turns_the_pages_into_english_and_back(client, city):
    page = client.get("/").content.decode()
    assert 'lang="zh-hans"' in page

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/track/",
                                             "csrfmiddlewaretoken": csrf_token(page)})

    assert response.status_code == 302 and response["Location"] == "/track/"
    assert '<html lang="en">' in client.get("/track/").content.decode()


def test_an_unknown_page_is_a_plain_404_that_points_to_tracking(client):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert 'href="/track/"' in response.content.decode()
