"""Weibo intake: posts open tickets, reposts add support, pictures stay as links."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client

from tests.factories import make_city, make_ticket
from tests.threads import race
from tests.tickets.intake.conftest import weibo
from tickets import services
from tickets.models import Channel, InboundMessage, State, Supporter, Ticket

PICTURES = ["https://wx1.sinaimg.cn/large/0001.jpg", "https://wx2.sinaimg.cn/large/0002.jpg"]


def test_a_post_opens_a_ticket_with_its_author_place_and_pictures(deliver):
    response = deliver("weibo", weibo(geo={"lat": 30.5283, "lng": 114.3533}, pics=PICTURES))

    assert response.status_code == 201
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.reporter_name, ticket.reporter_phone) == (Channel.WEIBO, "市民1001", "")
    assert (ticket.lat, ticket.lng) == (Decimal("30.528300"), Decimal("114.353300"))
    message = ticket.inbound_messages.get()
    assert (message.sender, message.thread, message.pictures) == ("1001", "5012345678901234", PICTURES)


def test_a_repost_of_a_post_with_a_ticket_adds_the_reposter_as_a_supporter(deliver):
    original = deliver("weibo", weibo())
    repost = deliver("weibo", weibo(mid="502", user_id="2002", text="转发微博 同样的问题",
                                    repost_of="5012345678901234"))

    assert repost.status_code == 200 and repost.json() == original.json()
    ticket = Ticket.objects.get()
    assert ticket.support_count == 1
    supporter = Supporter.objects.get()
    assert (supporter.identity, supporter.name, supporter.message.external_id) == ("2002", "市民2002", "502")
    assert ticket.events.get(kind="support").payload == {"channel": "weibo", "support_count": 1}
    assert InboundMessage.objects.get(external_id="502").outcome == "supported"


def test_a_person_supports_a_ticket_once_however_often_they_repost(deliver):
    deliver("weibo", weibo())
    for mid in ("502", "503", "504"):
        deliver("weibo", weibo(mid=mid, user_id="2002", repost_of="5012345678901234"))

    assert Ticket.objects.get().support_count == 1
    assert InboundMessage.objects.filter(outcome="supported").count() == 3


def test_the_author_reposting_their_own_post_adds_no_support(deliver):
    deliver("weibo", weibo())
    assert deliver("weibo", weibo(mid="502", repost_of="5012345678901234")).status_code == 200
    assert Ticket.objects.get().support_count == 0


def test_a_repost_of_an_unknown_post_opens_a_ticket_that_later_reposts_support(deliver):
    first = deliver("weibo", weibo(mid="601", user_id="3003", text="", repost_of="600"))
    second = deliver("weibo", weibo(mid="602", user_id="3004", text="转发", repost_of="600"))
    original = deliver("weibo", weibo(mid="600", user_id="3000", text="原帖：小区门口积水"))

    assert first.status_code == 201 and second.status_code == 200 and original.status_code == 200
    ticket = Ticket.objects.get()
    assert ticket.support_count == 2
    assert "600" in ticket.description  # the repost had no text of its own
    assert InboundMessage.objects.get(external_id="600").text == "原帖：小区门口积水"


@pytest.mark.django_db(transaction=True)
def test_reposts_of_an_unknown_post_racing_in_open_one_ticket(deliver):
    answers = race(8, lambda i: deliver("weibo", weibo(mid=f"70{i}", user_id=f"40{i}", repost_of="700"),
                                        client=Client()))

    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert Ticket.objects.count() == 1 and Ticket.objects.get().support_count == 7


def test_a_repost_of_a_finished_ticket_is_kept_but_counts_no_support(deliver, city):
    deliver("weibo", weibo())
    ticket = Ticket.objects.get()
    services.ticket_reject(ticket_id=ticket.id, actor=city.dispatcher, reason="重复")

    assert deliver("weibo", weibo(mid="502", user_id="2002", repost_of="5012345678901234")).status_code == 200
    ticket.refresh_from_db()
    assert ticket.support_count == 0 and ticket.inbound_messages.count() == 2


def test_a_repost_supports_the_ticket_its_post_was_merged_into(deliver, city):
    deliver("weibo", weibo())
    merged = Ticket.objects.get()
    into = make_ticket(city)
    services.ticket_merge(ticket_id=merged.id, into_id=into.id, actor=city.dispatcher)

    response = deliver("weibo", weibo(mid="502", user_id="2002", repost_of="5012345678901234"))
    assert response.json()["number"] == into.number
    into.refresh_from_db()
    assert into.support_count == 2  # the merged ticket's reporter, and the reposter


def test_the_author_reposting_a_post_whose_ticket_was_merged_adds_no_support_to_the_carrier(deliver, city):
    deliver("weibo", weibo())
    merged = Ticket.objects.get()
    into = make_ticket(city)
    services.ticket_merge(ticket_id=merged.id, into_id=into.id, actor=city.dispatcher)

    response = deliver("weibo", weibo(mid="502", repost_of="5012345678901234"))

    assert response.json()["number"] == into.number
    into.refresh_from_db()
    assert into.support_count == 1 and not Supporter.objects.exists()  # the merge counted the author
    assert InboundMessage.objects.get(external_id="502").ticket_id == into.id


@pytest.mark.django_db(transaction=True)
def test_a_repost_follows_a_merge_of_the_carrier_that_lands_while_it_waits_for_the_lock(deliver):
    city = make_city()
    deliver("weibo", weibo())
    first, carrier, last = Ticket.objects.get(), make_ticket(city), make_ticket(city)
    services.ticket_merge(ticket_id=first.id, into_id=carrier.id, actor=city.dispatcher)
    merging, release, answers = threading.Event(), threading.Event(), []

    def merge_the_carrier():
        try:
            with transaction.atomic():
                services.ticket_merge(ticket_id=carrier.id, into_id=last.id, actor=city.dispatcher)
                merging.set()
                release.wait(20)
        finally:
            connection.close()

    def repost():
        try:
            answers.append(deliver("weibo", weibo(mid="502", user_id="2002", repost_of="5012345678901234"),
                                   client=Client()))
        finally:
            connection.close()

    threads = [threading.Thread(target=merge_the_carrier), threading.Thread(target=repost)]
    threads[0].start()
    assert merging.wait(20)
    threads[1].start()
    deadline = time.monotonic() + 20
    while not _waiting_for_a_row_lock():
        assert time.monotonic() < deadline, "the repost never waited for the carrier's lock"
        time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(30)

    assert answers[0].status_code == 200 and answers[0].json()["number"] == last.number
    assert Supporter.objects.get().ticket_id == last.id
    assert InboundMessage.objects.get(external_id="502").ticket_id == last.id
    last.refresh_from_db()
    assert last.support_count == 3  # the carrier, its merged post's author, and the reposter


def _waiting_for_a_row_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                       " AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


def test_a_repost_with_no_text_needs_none(deliver):
    deliver("weibo", weibo())
    assert deliver("weibo", weibo(mid="502", user_id="2002", text="", repost_of="5012345678901234")).status_code == 200


def test_an_original_post_without_text_is_refused(deliver):
    response = deliver("weibo", weibo(text=" "))
    assert response.status_code == 400 and list(response.json()["fields"]) == ["text"]


def test_support_is_visible_to_the_citizen_and_live_to_the_desk(deliver):
    deliver("weibo", weibo())
    deliver("weibo", weibo(mid="502", user_id="2002", repost_of="5012345678901234"))
    from tickets.selectors import ticket_public_events

    ticket = Ticket.objects.get()
    assert [e.kind for e in ticket_public_events(ticket)] == ["report", "support"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_reposts_by_one_person_count_once(deliver):
    make_city()
    deliver("weibo", weibo())
    race(5, lambda i: deliver("weibo", weibo(mid=f"80{i}", user_id="2002", repost_of="5012345678901234"),
                              client=Client()))

    ticket = Ticket.objects.get(channel=Channel.WEIBO)
    assert ticket.support_count == 1 and ticket.state == State.REPORTED
