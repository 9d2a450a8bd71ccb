"""Rules of the ticket services beyond the state table: deadlines, reopening, merging, extensions."""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.utils import IntegrityError
from django.utils import timezone

from tests.factories import make_ticket
from tickets import services
from tickets.errors import Conflict, InvalidInput, NotAllowed
from tickets.models import ExtensionRequest, Sla, State, Ticket, TicketEvent


def test_a_new_ticket_runs_only_its_accept_clock(city):
    ticket = make_ticket(city)
    assert ticket.accept_due_at == ticket.reported_at + dt.timedelta(hours=2)
    assert ticket.claim_due_at is None and ticket.resolve_due_at is None and ticket.feedback_due_at is None
    assert ticket.due_at == ticket.accept_due_at
    assert ticket.sla == Sla.OK


def test_dispatch_starts_the_claim_and_resolve_clocks_and_claim_stops_the_first(city):
    ticket = make_ticket(city, State.DISPATCHED)
    assert ticket.claim_due_at == ticket.dispatched_at + dt.timedelta(hours=4)
    assert ticket.resolve_due_at > ticket.claim_due_at
    assert ticket.due_at == ticket.claim_due_at
    services.ticket_claim(ticket_id=ticket.id, actor=city.handler)
    ticket.refresh_from_db()
    assert ticket.due_at == ticket.resolve_due_at


def test_verify_starts_the_feedback_clock_and_closing_stops_every_clock(city):
    ticket = make_ticket(city, State.AWAITING_FEEDBACK)
    assert ticket.feedback_due_at is not None and ticket.due_at == ticket.feedback_due_at
    services.ticket_rate(ticket_id=ticket.id, actor=city.operator, rating="basically_satisfied")
    ticket.refresh_from_db()
    assert ticket.state == State.CLOSED and ticket.due_at is None and ticket.rating == "basically_satisfied"


def test_sla_turns_yellow_at_eighty_percent_and_red_at_the_deadline(city):
    ticket = make_ticket(city)
    now = timezone.now()
    ticket.warn_at, ticket.due_at = now - dt.timedelta(minutes=1), now + dt.timedelta(minutes=5)
    assert ticket.sla == Sla.WARNING
    ticket.due_at = now - dt.timedelta(seconds=1)
    assert ticket.sla == Sla.BREACHED
    assert ticket.warn_at - ticket.reported_at < ticket.accept_due_at - ticket.reported_at


def test_unsatisfied_rating_reopens_to_the_same_unit_with_fresh_clocks(city):
    ticket = make_ticket(city, State.AWAITING_FEEDBACK)
    old_resolve_due = ticket.resolve_due_at
    services.ticket_rate(ticket_id=ticket.id, actor=None, rating="unsatisfied", comment="还是没有水")
    ticket.refresh_from_db()
    assert ticket.state == State.DISPATCHED
    assert ticket.unit == city.bureau and ticket.reopen_count == 1
    assert ticket.resolve_due_at >= old_resolve_due and ticket.claimed_at is None
    event = ticket.events.latest("id")
    assert (event.kind, event.note, event.payload["rating"]) == ("reopen", "还是没有水", "unsatisfied")


def test_merge_folds_support_into_the_open_target(city):
    target = make_ticket(city, State.ACCEPTED)
    duplicate = make_ticket(city)
    services.ticket_merge(ticket_id=duplicate.id, into_id=target.id, actor=city.dispatcher)
    duplicate.refresh_from_db()
    target.refresh_from_db()
    assert duplicate.state == State.MERGED and duplicate.merged_into == target
    assert target.support_count == 1
    assert target.events.latest("id").kind == "merge_in"


def test_merge_refuses_itself_and_closed_targets(city):
    ticket, closed = make_ticket(city), make_ticket(city, State.CLOSED)
    with pytest.raises(InvalidInput):
        services.ticket_merge(ticket_id=ticket.id, into_id=ticket.id, actor=city.dispatcher)
    with pytest.raises(Conflict):
        services.ticket_merge(ticket_id=ticket.id, into_id=closed.id, actor=city.dispatcher)
    assert Ticket.objects.get(id=ticket.id).state == State.REPORTED


def test_a_final_dispatch_cannot_be_returned(city):
    ticket = make_ticket(city, State.ACCEPTED)
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher, final=True)
    with pytest.raises(Conflict, match="审定"):
        services.ticket_return(ticket_id=ticket.id, actor=city.handler, reason="wrong_territory")
    with pytest.raises(NotAllowed):
        services.ticket_return(ticket_id=ticket.id, actor=city.other_handler, reason="wrong_territory")


def test_return_restarts_the_accept_clock_and_keeps_the_reason(city):
    ticket = make_ticket(city, State.IN_PROGRESS)
    services.ticket_return(ticket_id=ticket.id, actor=city.handler, reason="职能交叉", comment="应由燃气公司处理")
    ticket.refresh_from_db()
    assert ticket.state == State.ACCEPTED and ticket.unit is None and ticket.return_count == 1
    assert ticket.accept_due_at > ticket.reported_at + dt.timedelta(hours=2) - dt.timedelta(seconds=1)
    event = ticket.events.latest("id")
    assert event.payload == {"reason": "overlapping_duties"} and event.note == "应由燃气公司处理"
    assert event.unit == city.bureau and not event.is_public


@pytest.mark.parametrize(
    ("reason", "comment", "expected"),
    [
        ("wrong_territory", "", ("wrong_territory", "")),
        ("属地不符", "", ("wrong_territory", "")),
        ("该地址属于汉阳区", "", ("other", "该地址属于汉阳区")),
        ("other", "地址不详", ("other", "地址不详")),
    ],
)
def test_return_reasons_accept_codes_labels_and_free_text(reason, comment, expected):
    assert services.parse_return_reason(reason, comment) == expected


def test_return_reason_other_needs_an_explanation():
    with pytest.raises(InvalidInput):
        services.parse_return_reason("other", "  ")


def test_an_approved_extension_moves_the_resolve_deadline(city):
    ticket = make_ticket(city, State.IN_PROGRESS)
    until = ticket.resolve_due_at + dt.timedelta(days=3)
    services.ticket_request_extension(ticket_id=ticket.id, actor=city.handler, until=until, reason="需要协调施工")
    with pytest.raises(Conflict):
        services.ticket_request_extension(ticket_id=ticket.id, actor=city.handler, until=until, reason="再次")
    with pytest.raises(NotAllowed):
        services.ticket_decide_extension(ticket_id=ticket.id, actor=city.handler, approve=True)
    services.ticket_decide_extension(ticket_id=ticket.id, actor=city.dispatcher, approve=True)
    ticket.refresh_from_db()
    assert ticket.resolve_due_at == until and ticket.due_at == until
    assert ExtensionRequest.objects.get(ticket=ticket).status == "approved"
    assert ticket.events.latest("id").kind == "extension_approved"


def test_a_refused_extension_leaves_the_deadline(city):
    ticket = make_ticket(city, State.IN_PROGRESS)
    due = ticket.resolve_due_at
    services.ticket_request_extension(
        ticket_id=ticket.id, actor=city.handler, until=due + dt.timedelta(days=1), reason="材料不全"
    )
    services.ticket_decide_extension(ticket_id=ticket.id, actor=city.dispatcher, approve=False, note="可按期办结")
    ticket.refresh_from_db()
    assert ticket.resolve_due_at == due
    with pytest.raises(Conflict):
        services.ticket_decide_extension(ticket_id=ticket.id, actor=city.dispatcher, approve=True)


@pytest.mark.parametrize("days", [-1, 0, 31])
def test_an_extension_must_be_later_and_within_thirty_days(city, days):
    ticket = make_ticket(city, State.IN_PROGRESS)
    with pytest.raises(InvalidInput):
        services.ticket_request_extension(
            ticket_id=ticket.id, actor=city.handler,
            until=ticket.resolve_due_at + dt.timedelta(days=days), reason="理由",
        )
    assert not ExtensionRequest.objects.exists()


def test_dispatch_refuses_the_centre_and_inactive_units(city):
    ticket = make_ticket(city)
    with pytest.raises(InvalidInput):
        services.ticket_dispatch(ticket_id=ticket.id, unit=city.centre, actor=city.dispatcher)
    city.other_bureau.is_active = False
    city.other_bureau.save()
    with pytest.raises(InvalidInput):
        services.ticket_dispatch(ticket_id=ticket.id, unit=city.other_bureau, actor=city.dispatcher)


def test_people_cannot_expire_feedback(city):
    ticket = make_ticket(city, State.AWAITING_FEEDBACK)
    with pytest.raises(NotAllowed):
        services.ticket_expire_feedback(ticket_id=ticket.id, actor=city.dispatcher)
    services.ticket_expire_feedback(ticket_id=ticket.id, now=ticket.feedback_due_at + dt.timedelta(seconds=1))
    assert Ticket.objects.get(id=ticket.id).state == State.CLOSED


def test_a_ticket_number_is_the_local_date_and_the_id(city):
    ticket = make_ticket(city)
    assert ticket.number == f"{timezone.localtime(ticket.reported_at):%y%m%d}{ticket.id:07d}"


def test_the_access_code_is_stored_hashed_and_survives_a_key_rotation(city, settings):
    ticket, code = services.ticket_create(category=city.category, description="路灯不亮", channel="staff")
    assert code.isdigit() and len(code) == 8
    assert code not in ticket.access_code_hash
    assert ticket.check_access_code(code)
    assert not ticket.check_access_code("00000000" if code != "00000000" else "11111111")
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-key", [old_key]
    assert ticket.check_access_code(code)


def test_create_normalises_the_phone_and_refuses_bad_input_without_writing(city):
    ticket, _ = services.ticket_create(
        category=city.category, description=" 停水 ", channel="phone", reporter_phone="+86 138-0013-8000"
    )
    assert ticket.reporter_phone == "13800138000" and ticket.description == "停水"
    before = (Ticket.objects.count(), TicketEvent.objects.count())
    for bad in [
        {"description": "   "},
        {"description": "x", "reporter_phone": "12345"},
        {"description": "x", "lat": 91, "lng": 114},
        {"description": "x", "lat": 30},
        {"description": "x" * 5001},
        {"description": "x", "channel": "fax"},
    ]:
        with pytest.raises(InvalidInput):
            services.ticket_create(category=city.category, **{"channel": "staff", **bad})
    with pytest.raises(InvalidInput):
        services.ticket_create(category=city.category.parent, description="x", channel="staff")
    assert (Ticket.objects.count(), TicketEvent.objects.count()) == before


def test_events_are_append_only_in_the_model_and_in_postgresql(city):
    event = make_ticket(city).events.get()
    event.note = "rewritten"
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()
    for sql in ("UPDATE tickets_ticketevent SET note = 'x'", "DELETE FROM tickets_ticketevent"):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    assert TicketEvent.objects.get(id=event.id).note == ""
