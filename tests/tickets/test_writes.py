"""A report's rows written by one statement (tickets.writes): all or nothing, as the ORM would write them."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from tests.factories import make_city
from tickets import services, writes
from tickets.models import Channel, InboundMessage, Notification, Ticket, TicketEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def _report(city, **extra):
    return services.ticket_create(category=city.category, description="停水两天了", channel=Channel.SMS,
                                  reporter_phone="13800138000", **extra)


def test_a_report_writes_its_ticket_message_event_and_receipt_in_one_insert():
    city = make_city()
    message = InboundMessage(channel=Channel.SMS, external_id="m-1", outcome=InboundMessage.Outcome.OPENED,
                             sender="13800138000", raw="{\"text\": \"停水两天了\"}")
    with CaptureQueriesContext(connection) as queries:
        ticket, _code = _report(city, message=message)

    inserts = [q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"]]
    assert len(inserts) == 1 and inserts[0].startswith("WITH ")
    stored = Ticket.objects.get(id=ticket.id)
    assert stored.number == ticket.number and stored.description == "停水两天了"
    assert stored.claim_due_at == ticket.claim_due_at
    [event] = TicketEvent.objects.filter(ticket=ticket)
    assert (event.kind, event.to_state, event.payload) == ("report", "reported", {"channel": "sms"})
    [kept] = InboundMessage.objects.filter(ticket=ticket)
    assert kept.external_id == "m-1" and kept.raw == "{\"text\": \"停水两天了\"}" and kept.received_at is not None
    [receipt] = Notification.objects.filter(event=event)
    assert receipt.kind == Notification.Kind.ACKNOWLEDGEMENT and receipt.address == "13800138000"
    assert ticket.number in receipt.body
    # The objects are as saved ones: an edit updates the row instead of inserting another.
    ticket.address = "中南路1号"
    ticket.save(update_fields=["address"])
    assert Ticket.objects.get(id=ticket.id).address == "中南路1号"


def test_a_failing_part_writes_none_of_the_rows():
    city = make_city()
    _report(city, message=InboundMessage(
        channel=Channel.SMS, external_id="taken", outcome=InboundMessage.Outcome.OPENED, sender="13800138000",
        raw="{}"))
    before = (Ticket.objects.count(), TicketEvent.objects.count(), Notification.objects.count())

    repeat = InboundMessage(channel=Channel.SMS, external_id="taken", outcome=InboundMessage.Outcome.OPENED,
                            sender="13800138000", raw="{}")
    with pytest.raises(IntegrityError), transaction.atomic():
        _report(city, message=repeat)

    assert (Ticket.objects.count(), TicketEvent.objects.count(), Notification.objects.count()) == before


def test_rows_given_to_ignore_conflicts_leave_an_existing_one_alone():
    city = make_city()
    ticket, _code = _report(city)
    event = TicketEvent.objects.get(ticket=ticket)
    [first] = Notification.objects.filter(event=event)
    again = Notification(ticket=ticket, event=event, kind=first.kind, channel=first.channel, address=first.address,
                         body="another text", created_at=first.created_at, status=first.status)

    writes.insert_together(ignore_conflicts=[again])

    assert list(Notification.objects.filter(event=event).values_list("body", flat=True)) == [first.body]


def test_next_ids_reserve_each_sequence_once():
    a_ticket, an_event = writes.next_ids(Ticket, TicketEvent)
    next_ticket, next_event = writes.next_ids(Ticket, TicketEvent)
    assert next_ticket == a_ticket + 1 and next_event == an_event + 1


def _as_stored(row, **lookup):
    stored = type(row).objects.get(**(lookup or {"pk": row.pk}))
    return {f.attname: f.value_from_object(stored) for f in type(row)._meta.concrete_fields if f.attname != "id"}


def _as_held(row):
    return {f.attname: f.value_from_object(row) for f in type(row)._meta.concrete_fields if f.attname != "id"}


def test_reports_after_the_first_are_written_field_for_field_as_the_objects_hold_them():
    # The first report of a kind compiles each INSERT; the next ones reuse its SQL.
    city = make_city()
    for number in range(3):
        message = InboundMessage(channel=Channel.SMS, external_id=f"m-{number}", outcome=InboundMessage.Outcome.OPENED,
                                 sender="13800138000", raw="{}", text=f"停水 {number}", pictures=[f"p{number}"])
        ticket, _code = _report(city, message=message, address=f"中南路{number}号")
        event = TicketEvent.objects.get(ticket=ticket)
        [receipt] = Notification.objects.filter(event=event)
        for row in (ticket, event):
            assert _as_stored(row) == _as_held(row)
        # The message's id comes from its sequence and is not read back.
        assert _as_stored(message, external_id=message.external_id) == _as_held(message)
        assert receipt.address == "13800138000" and ticket.number in receipt.body


def test_a_value_that_is_an_expression_is_written_by_its_own_sql():
    from django.db.models.functions import Now

    city = make_city()
    ticket, _code = _report(city)
    plain = InboundMessage(channel=Channel.SMS, external_id="plain", outcome=InboundMessage.Outcome.RATED,
                           sender="13800138000", raw="{}", ticket=ticket)
    timed = InboundMessage(channel=Channel.SMS, external_id="timed", outcome=InboundMessage.Outcome.RATED,
                           sender="13800138000", raw="{}", ticket=ticket, sent_at=Now())
    writes.insert_together(plain)
    writes.insert_together(timed)

    stored = InboundMessage.objects.get(external_id="timed")
    assert stored.sent_at is not None and stored.sent_at >= ticket.reported_at
    assert InboundMessage.objects.get(external_id="plain").sent_at is None


def test_placeholders_are_numbered_in_order_and_a_literal_percent_stays_one():
    assert writes._numbered("INSERT INTO t (a, b) VALUES (%s, %s) -- 100%% %s") == (
        "INSERT INTO t (a, b) VALUES ($1, $2) -- 100% $3")
