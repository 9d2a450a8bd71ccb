"""SMS intake: new reports, repeats, survey answers that rate, and races between deliveries."""

import pytest
from django.test import Client

from tests.factories import make_city, make_ticket
from tests.threads import race
from tests.tickets.intake.conftest import sms
from tickets.intake.sms import parse_survey_answer
from tickets.models import Channel, InboundMessage, Rating, State, Ticket, TicketEvent


def test_an_sms_opens_a_ticket_in_the_intake_category_with_the_senders_number(deliver):
    response = deliver("sms", sms(sender="+86 138-0013-8000", text="  光谷大道停水两天了  "))

    assert response.status_code == 201
    ticket = Ticket.objects.get(number=response.json()["number"])
    assert (ticket.channel, ticket.reporter_phone, ticket.description) == (
        Channel.SMS, "13800138000", "光谷大道停水两天了")
    assert ticket.category.code == "unclassified"
    message = InboundMessage.objects.get()
    assert (message.outcome, message.sender, message.external_id, message.ticket) == (
        "opened", "13800138000", "sms-1", ticket)
    assert message.text == "  光谷大道停水两天了  "
    assert message.sent_at.isoformat() == "2026-11-24T01:30:00+00:00"


def test_a_repeated_delivery_answers_the_same_ticket_and_opens_none(deliver):
    first = deliver("sms", sms())
    again = deliver("sms", sms())

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Ticket.objects.count() == 1 and InboundMessage.objects.count() == 1


def test_the_same_message_id_on_another_channel_is_another_message(deliver):
    from tests.tickets.intake.conftest import weibo

    deliver("sms", sms(message_id="42"))
    assert deliver("weibo", weibo(mid="42")).status_code == 201
    assert Ticket.objects.count() == 2


def test_a_text_longer_than_a_description_is_cut_for_staff_and_kept_whole(deliver):
    text = "停" * 6000
    assert deliver("sms", sms(text=text)).status_code == 201

    ticket = Ticket.objects.get()
    assert len(ticket.description) == 5000 and ticket.description.endswith("…")
    assert InboundMessage.objects.get().text == text


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_deliveries_of_one_message_make_one_ticket(deliver):
    answers = race(10, lambda i: deliver("sms", sms(message_id="gateway-777"), client=Client()))

    assert sorted(a.status_code for a in answers) == [200] * 9 + [201]
    assert len({a.json()["number"] for a in answers}) == 1
    assert Ticket.objects.count() == 1 and InboundMessage.objects.count() == 1
    assert TicketEvent.objects.filter(kind="report").count() == 1


# -- survey answers ---------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ("1", (Rating.SATISFIED, "", "")),
    ("１", (Rating.SATISFIED, "", "")),
    (" 2。", (Rating.BASICALLY_SATISFIED, "", "")),
    ("满意", (Rating.SATISFIED, "", "")),
    ("基本满意！", (Rating.BASICALLY_SATISFIED, "", "")),
    ("不满意，路灯还是不亮", (Rating.UNSATISFIED, "路灯还是不亮", "")),
    ("3 路灯还是不亮", (Rating.UNSATISFIED, "路灯还是不亮", "")),
    ("1 2611240000123", (Rating.SATISFIED, "", "2611240000123")),
    ("3 2611240000123 还是没修", (Rating.UNSATISFIED, "还是没修", "2611240000123")),
])
def test_survey_answers_are_read_with_their_comment_and_number(text, expected):
    answer = parse_survey_answer(text)
    assert (answer.rating, answer.comment, answer.number) == expected


@pytest.mark.parametrize("text", ["1号楼停水", "12", "满意度太低了", "4", "我不满意物业", "路灯坏了 1"])
def test_other_texts_are_not_survey_answers(text):
    assert parse_survey_answer(text) is None


def _awaiting(city, phone="13900139000", **fields):
    return make_ticket(city, State.AWAITING_FEEDBACK, reporter_phone=phone, **fields)


def test_a_survey_answer_rates_the_phones_ticket_instead_of_opening_one(deliver, city):
    ticket = _awaiting(city)
    response = deliver("sms", sms(sender="13900139000", text="1"))

    assert response.status_code == 200
    assert response.json() == {"number": ticket.number, "state": "closed"}
    ticket.refresh_from_db()
    assert (ticket.state, ticket.rating) == (State.CLOSED, Rating.SATISFIED)
    assert Ticket.objects.count() == 1
    event = ticket.events.get(kind="rate")
    assert event.actor is None and event.payload["via"] == "sms"
    assert InboundMessage.objects.get().outcome == "rated"


def test_an_unsatisfied_answer_reopens_the_ticket_with_the_comment(deliver, city):
    ticket = _awaiting(city)
    deliver("sms", sms(sender="13900139000", text="不满意：路灯还是不亮"))

    ticket.refresh_from_db()
    assert (ticket.state, ticket.reopen_count, ticket.unit) == (State.DISPATCHED, 1, city.bureau)
    assert ticket.events.get(kind="reopen").note == "路灯还是不亮"


def test_with_several_tickets_waiting_the_answer_rates_the_last_verified(deliver, city):
    older, newer = _awaiting(city), _awaiting(city)
    deliver("sms", sms(sender="13900139000", text="2"))

    older.refresh_from_db(), newer.refresh_from_db()
    assert (older.state, newer.state) == (State.AWAITING_FEEDBACK, State.CLOSED)


def test_an_answer_naming_a_ticket_rates_that_one(deliver, city):
    older, newer = _awaiting(city), _awaiting(city)
    deliver("sms", sms(sender="13900139000", text=f"3 {older.number}"))

    older.refresh_from_db(), newer.refresh_from_db()
    assert (older.state, newer.state) == (State.DISPATCHED, State.AWAITING_FEEDBACK)


def test_an_answer_from_another_phone_opens_a_ticket_and_rates_nothing(deliver, city):
    ticket = _awaiting(city)
    response = deliver("sms", sms(sender="13700137000", text="1"))

    assert response.status_code == 201
    ticket.refresh_from_db()
    assert ticket.state == State.AWAITING_FEEDBACK
    assert Ticket.objects.filter(channel=Channel.SMS, description="1").count() == 1


def test_a_report_that_starts_with_a_digit_is_a_report(deliver, city):
    ticket = _awaiting(city)
    assert deliver("sms", sms(sender="13900139000", text="1号楼又停水了")).status_code == 201
    ticket.refresh_from_db()
    assert ticket.state == State.AWAITING_FEEDBACK


def test_a_repeated_survey_answer_rates_once(deliver, city):
    ticket = _awaiting(city)
    first, again = deliver("sms", sms(sender="13900139000", text="3")), deliver("sms", sms(sender="13900139000", text="3"))

    assert first.json() == again.json() and again.status_code == 200
    ticket.refresh_from_db()
    assert ticket.reopen_count == 1 and ticket.events.filter(kind="reopen").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_survey_answer_rate_once(deliver):
    city = make_city()
    ticket = _awaiting(city)
    answers = race(6, lambda i: deliver("sms", sms(message_id="survey-9", sender="13900139000", text="3"),
                                        client=Client()))

    assert [a.status_code for a in answers] == [200] * 6
    ticket.refresh_from_db()
    assert ticket.reopen_count == 1 and Ticket.objects.count() == 1
