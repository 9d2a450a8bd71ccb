"""Replies out: the citizen hears back on the channel they used, from a worker, after the commit."""

import time

import pytest
from django.core import signing
from django.test import Client

from tests.factories import make_city, make_ticket
from tests.tickets.intake.conftest import sms, weibo
from tests.tickets.test_notifications import TOKEN, Gateway, _wait_for
from tickets import notifications, services
from tickets.models import Channel, Notification, State, Ticket

Kind, Status = Notification.Kind, Notification.Status


def _to_citizen(ticket: Ticket, kind: str) -> list[Notification]:
    return list(Notification.objects.filter(ticket=ticket, kind=kind, recipient_unit=None).order_by("id"))


def _verified(city, ticket: Ticket, reply: str = "已更换路灯灯泡，恢复照明。") -> Ticket:
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher)
    services.ticket_claim(ticket_id=ticket.id, actor=city.handler)
    services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply=reply)
    return services.ticket_verify(ticket_id=ticket.id, actor=city.dispatcher)


def test_an_sms_report_is_acknowledged_by_sms_with_its_number_and_tracking_link(deliver, settings):
    settings.MINHU_PUBLIC_URL = "https://12345.example.gov.cn"
    deliver("sms", sms(sender="13912345678"))
    ticket = Ticket.objects.get()

    [notice] = _to_citizen(ticket, Kind.ACKNOWLEDGEMENT)
    assert (notice.channel, notice.address) == ("sms", "13912345678")
    assert ticket.number in notice.body
    assert notice.body.endswith(f"https://12345.example.gov.cn/track/{ticket.number}/")


def test_a_weibo_report_is_acknowledged_in_a_comment_under_the_post_without_a_link(deliver):
    deliver("weibo", weibo(mid="5099"))
    ticket = Ticket.objects.get()

    [notice] = _to_citizen(ticket, Kind.ACKNOWLEDGEMENT)
    assert (notice.channel, notice.address) == ("weibo", "5099")
    assert ticket.number in notice.body and "/track/" not in notice.body


def test_a_repost_that_opened_a_ticket_is_answered_under_the_repost(deliver):
    deliver("weibo", weibo(mid="601", repost_of="600", text="转发：积水"))
    [notice] = _to_citizen(Ticket.objects.get(), Kind.ACKNOWLEDGEMENT)
    assert notice.address == "601"


def test_verifying_sends_the_reply_and_the_rating_request_by_sms(deliver, city):
    deliver("sms", sms(sender="13912345678"))
    ticket = _verified(city, Ticket.objects.get())

    [result] = _to_citizen(ticket, Kind.RESULT)
    assert (result.channel, result.address) == ("sms", "13912345678")
    assert "已更换路灯灯泡，恢复照明。" in result.body and "1满意 2基本满意 3不满意" in result.body


def test_verifying_a_weibo_ticket_comments_the_reply_under_the_post(deliver, city):
    deliver("weibo", weibo(mid="5099"))
    ticket = _verified(city, Ticket.objects.get(), reply="路灯已修复。" * 40)

    [result] = _to_citizen(ticket, Kind.RESULT)
    assert (result.channel, result.address) == ("weibo", "5099")
    assert "路灯已修复。" in result.body and len(result.body) < 140 and result.body.endswith("…")


def test_a_phone_ticket_hears_the_result_by_sms_and_one_without_a_number_hears_nothing(city):
    called = make_ticket(city, State.AWAITING_FEEDBACK, reporter_phone="13700137000")
    web, _code = services.ticket_create(category=city.category, description="路面塌陷", channel=Channel.WEB)
    _verified(city, web)

    assert [n.address for n in _to_citizen(called, Kind.RESULT)] == ["13700137000"]
    assert _to_citizen(web, Kind.RESULT) == []


def test_reporters_of_merged_duplicates_hear_the_result_without_a_rating_request(city):
    main = make_ticket(city, reporter_phone="13700137000")
    for phone in ("13711111111", "13722222222", "13700137000"):
        duplicate = make_ticket(city, reporter_phone=phone)
        services.ticket_merge(ticket_id=duplicate.id, into_id=main.id, actor=city.dispatcher)
    services.ticket_accept(ticket_id=main.id, actor=city.dispatcher)
    _verified(city, main)

    results = _to_citizen(main, Kind.RESULT)
    assert sorted(n.address for n in results) == ["13700137000", "13711111111", "13722222222"]
    by_address = {n.address: n.body for n in results}
    assert "请回复数字评价" in by_address["13700137000"]  # the main reporter, once
    assert "已并入工单" in by_address["13711111111"] and "请回复数字评价" not in by_address["13711111111"]


def test_a_reply_goes_out_only_after_the_commit(deliver, city, django_capture_on_commit_callbacks):
    deliver("sms", sms(sender="13912345678"))
    ticket = Ticket.objects.get()
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher)
    services.ticket_claim(ticket_id=ticket.id, actor=city.handler)
    services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply="已处理")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.ticket_verify(ticket_id=ticket.id, actor=city.dispatcher)
    [result] = _to_citizen(ticket, Kind.RESULT)
    assert (result.status, result.attempts) == (Status.PENDING, 0)
    assert any(getattr(callback, "__name__", "") == "queue_notices" for callback in callbacks)


# -- the Weibo relay, with retries by a real worker ---------------------------------------


@pytest.fixture
def relay(settings):
    server = Gateway()
    server.start()
    settings.MINHU_WEIBO_RELAY_URL = server.url
    settings.MINHU_WEIBO_RELAY_TOKEN = TOKEN
    settings.MINHU_NOTIFICATION_BACKENDS = {
        **settings.MINHU_NOTIFICATION_BACKENDS, "weibo": "tickets.notifications.HttpWeiboBackend",
    }
    settings.MINHU_NOTIFY_BACKOFF_SECONDS = 1
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_real_worker_retries_a_weibo_comment_the_relay_could_not_post(relay, deliver):
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    app.control.purge()
    make_city()
    relay.answer(503, then=200)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        deliver("weibo", weibo(mid="5099"), client=Client())
        ticket = Ticket.objects.get()
        [notice] = _to_citizen(ticket, Kind.ACKNOWLEDGEMENT)
        assert _wait_for(lambda: Notification.objects.get(id=notice.id).status == Status.SENT)
    app.control.purge()

    notice.refresh_from_db()
    assert (notice.attempts, notice.last_error) == (2, "")
    assert relay.received[-1]["json"] == {"reply_to": "5099", "text": notice.body, "ref": f"minhu-{notice.id}"}
    assert {r["authorization"] for r in relay.received} == {f"Bearer {TOKEN}"}


def test_a_relay_refusal_fails_the_comment_for_good(relay, deliver):
    relay.answer(404)
    deliver("weibo", weibo(mid="5099"))
    [notice] = _to_citizen(Ticket.objects.get(), Kind.ACKNOWLEDGEMENT)

    notifications.notification_send(notification_id=notice.id)
    notice.refresh_from_db()
    assert (notice.status, notice.last_error) == (Status.FAILED, "gateway refused it: HTTP 404")


# -- the signed link in the citizen's SMS ---------------------------------------------------


def _key(number: str) -> str:
    return notifications.signed_tracking_link(number).split("?k=")[1]


def test_the_link_in_the_sms_opens_the_ticket_without_its_code_and_drops_the_key(deliver):
    deliver("sms", sms())
    ticket = Ticket.objects.get()
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")

    response = browser.get(f"/track/{ticket.number}/", {"k": _key(ticket.number)})
    assert response.status_code == 302 and response["Location"] == f"/track/{ticket.number}/"
    page = browser.get(response["Location"])
    assert page.status_code == 200 and ticket.number in page.content.decode()


def test_a_key_opens_only_its_own_ticket(deliver):
    deliver("sms", sms())
    deliver("sms", sms(message_id="sms-2"))
    first, second = Ticket.objects.order_by("id")

    response = Client(HTTP_ACCEPT_LANGUAGE="en").get(f"/track/{second.number}/", {"k": _key(first.number)})
    assert response.status_code == 403 and "This link has expired" in response.content.decode()


def test_an_expired_link_asks_for_the_code(deliver, settings):
    deliver("sms", sms())
    number = Ticket.objects.get().number
    settings.MINHU_TRACKING_LINK_DAYS = 1

    class TwoDaysAgo(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - 2 * 86400)

    key = TwoDaysAgo(salt="minhu.tracking-link").sign(number).split(":", 1)[1]
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get(f"/track/{number}/", {"k": key})
    assert response.status_code == 403


def test_guessing_link_keys_is_limited_like_guessing_codes(deliver):
    deliver("sms", sms())
    number = Ticket.objects.get().number
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")

    statuses = [browser.get(f"/track/{number}/", {"k": f"guess{i}:x"}).status_code for i in range(11)]
    assert statuses == [403] * 10 + [429]
    assert browser.get(f"/track/{number}/", {"k": _key(number)}).status_code == 429
