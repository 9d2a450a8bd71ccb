"""The one-time rating link: made at each verify for the citizen's channel, its token only at sending."""

import hashlib

import pytest

from feedback.links import link_token
from feedback.models import RatingLink
from tests.factories import make_ticket
from tests.feedback.helpers import awaiting, handle_again, rating_path, reopen, sent_text, token_of
from tickets import notifications, services
from tickets.models import Channel, InboundMessage, Notification, State, Ticket

pytestmark = pytest.mark.django_db


def _verified(city, ticket: Ticket) -> Ticket:
    services.ticket_accept(ticket_id=ticket.id, actor=city.dispatcher)
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher)
    return handle_again(city, ticket, reply="已修复")


def test_verifying_a_phone_ticket_sends_a_link_by_sms_that_only_the_sent_text_completes(city, settings):
    settings.MINHU_PUBLIC_URL = "https://12345.example.gov.cn"
    ticket = awaiting(city, reporter_phone="13700137000")

    link = RatingLink.objects.get(ticket=ticket)
    [notice] = Notification.objects.filter(ticket=ticket, kind=Notification.Kind.RESULT)
    token = token_of(ticket)
    assert (notice.channel, notice.address) == ("sms", "13700137000")
    assert f"在线评价：https://12345.example.gov.cn/rate/{ticket.number}/ " in notice.body
    assert token not in notice.body  # the stored notice holds no working link
    assert f"https://12345.example.gov.cn/rate/{ticket.number}/{token}/" in sent_text(ticket)
    assert "1满意 2基本满意 3不满意" in notice.body  # the SMS answer still rates too
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {link.seed, link.token_hash} and len(token) == 24
    assert (link.round, link.used_at, link.expires_at) == (1, None, ticket.feedback_due_at)


def test_a_notice_sent_again_carries_the_same_token(city):
    ticket = awaiting(city)
    assert sent_text(ticket) == sent_text(ticket)


def test_a_weibo_ticket_gets_the_result_under_its_post_without_a_rating_link(city, settings):
    # A comment is public: a link in it would let whoever read it first rate, and reopen, the ticket.
    settings.MINHU_PUBLIC_URL = "https://12345.example.gov.cn"
    post = InboundMessage(channel=Channel.WEIBO, external_id="7001", outcome=InboundMessage.Outcome.OPENED,
                          sender="weibo-user-1", thread="7001", text="路灯不亮", raw="{}")
    ticket, _code = services.ticket_create(category=city.category, description="路灯不亮", channel=Channel.WEIBO,
                                           message=post)
    ticket = _verified(city, ticket)

    [notice] = Notification.objects.filter(ticket=ticket, kind=Notification.Kind.RESULT)
    payload = notifications.HttpWeiboBackend().payload(notice)
    assert (notice.channel, notice.address, payload["reply_to"]) == ("weibo", "7001", "7001")
    assert "已修复" in payload["text"]
    assert "/rate/" not in payload["text"] and "/track/" not in payload["text"]
    assert not RatingLink.objects.filter(ticket=ticket).exists()


def test_a_ticket_without_a_way_to_reach_its_citizen_gets_no_link(city):
    web, _code = services.ticket_create(category=city.category, description="路面塌陷", channel=Channel.WEB)
    _verified(city, web)
    assert not RatingLink.objects.filter(ticket=web).exists()


def test_reporters_of_merged_duplicates_are_told_the_result_without_a_link(city):
    main = make_ticket(city, reporter_phone="13700137000")
    duplicate = make_ticket(city, reporter_phone="13711111111")
    services.ticket_merge(ticket_id=duplicate.id, into_id=main.id, actor=city.dispatcher)
    _verified(city, main)

    notice = Notification.objects.get(ticket=main, address="13711111111", kind=Notification.Kind.RESULT)
    assert "/rate/" not in notifications.outgoing_text(notice)
    assert RatingLink.objects.filter(ticket=main).count() == 1


def test_each_verify_opens_a_new_round_with_its_own_link(city):
    ticket = awaiting(city)
    first = rating_path(ticket)
    ticket = handle_again(city, reopen(city, ticket))

    assert list(RatingLink.objects.filter(ticket=ticket).order_by("round").values_list("round", flat=True)) == [1, 2]
    assert rating_path(ticket) != first


def test_a_link_made_before_the_key_was_rotated_is_sent_with_the_old_key(city, settings):
    ticket = awaiting(city)
    token = token_of(ticket)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-for-this-test-only"

    assert token_of(ticket) == token
    settings.SECRET_KEY_FALLBACKS = []
    assert link_token(RatingLink.objects.get(ticket=ticket)) is None
    assert f"/rate/{ticket.number}/ " in sent_text(ticket)  # no key makes it: the plain address goes


def test_the_state_machine_takes_one_rating_per_round_whatever_the_path(city, api):
    ticket = awaiting(city)
    services.ticket_rate(ticket_id=ticket.id, actor=None, rating="satisfied", via="sms")

    response = api(city.operator).post(f"/api/v1/tickets/{ticket.number}/rate/", {"rating": "unsatisfied"},
                                       format="json")
    assert response.status_code == 409
    ticket.refresh_from_db()
    assert (ticket.state, ticket.rating, ticket.reopen_count) == (State.CLOSED, "satisfied", 0)
