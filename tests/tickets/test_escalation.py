"""What a missed deadline sets off: escalation, reminders, urging (催办) and the overdue report."""

import datetime as dt

import pytest
import time_machine

from departments import calendar
from tests.factories import make_ticket
from tests.tickets.api.helpers import assert_error
from tickets.models import AlertLevel, DeadlineAlert, Notification, State, Ticket
from tickets.sla import sla_sweep

CST = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2026, 11, 2, 10, 0, tzinfo=CST)  # Monday; resolve due Mon 9 Nov 23:59:59
OVERDUE_URL = "/api/v1/reports/overdue/"


@pytest.fixture
def liaisons(city):
    for index, unit in enumerate([city.centre, city.district, city.street, city.bureau]):
        unit.liaison_phone = f"1390000000{index}"
        unit.save()
    return {unit.code: unit.liaison_phone for unit in [city.centre, city.district, city.street, city.bureau]}


def _cards(ticket) -> list[tuple[str, str]]:
    return list(DeadlineAlert.objects.filter(ticket=ticket).order_by("id").values_list("stage", "level"))


def _told(ticket, kind) -> set[str]:
    return set(Notification.objects.filter(ticket=ticket, kind=kind).values_list("recipient_unit__code", flat=True))


def test_a_red_card_raises_the_escalation_level_and_tells_unit_supervisor_and_centre(city, liaisons):
    with time_machine.travel(START, tick=False):
        ticket = make_ticket(city, State.DISPATCHED, unit=city.street)

    sla_sweep(now=ticket.claim_due_at + dt.timedelta(seconds=1))

    after = Ticket.objects.get(id=ticket.id)
    assert after.escalation_level == 1
    assert _told(ticket, Notification.Kind.ESCALATION) == {"wuchang-zhongnan", "wuchang", "centre"}
    event = after.events.get(kind="warning_red")
    assert event.payload["escalation_level"] == 1 and event.payload["stage"] == "claim"

    sla_sweep(now=ticket.resolve_due_at + dt.timedelta(seconds=1))
    assert Ticket.objects.get(id=ticket.id).escalation_level == 2


def test_a_bureau_under_the_centre_escalates_to_the_centre_only(city, liaisons):
    with time_machine.travel(START, tick=False):
        ticket = make_ticket(city, State.DISPATCHED)

    sla_sweep(now=ticket.claim_due_at + dt.timedelta(seconds=1))

    assert _told(ticket, Notification.Kind.ESCALATION) == {"water-group", "centre"}


def test_an_unclaimed_ticket_reminds_the_unit_to_sign_at_the_yellow_mark(city, liaisons):
    with time_machine.travel(START, tick=False):
        ticket = make_ticket(city, State.DISPATCHED)

    sla_sweep(now=ticket.claim_warn_at + dt.timedelta(seconds=1))

    reminder = Notification.objects.get(ticket=ticket, kind=Notification.Kind.CLAIM_REMINDER)
    assert (reminder.recipient_unit, reminder.address) == (city.bureau, liaisons["water-group"])
    assert ticket.number in reminder.body and "签收" in reminder.body
    assert Ticket.objects.get(id=ticket.id).escalation_level == 0


def test_the_accept_clock_warns_the_centre_itself(city, liaisons):
    with time_machine.travel(START, tick=False):
        ticket = make_ticket(city)

    sla_sweep(now=ticket.accept_warn_at + dt.timedelta(seconds=1))

    assert _told(ticket, Notification.Kind.WARNING) == {"centre"}


def test_urging_goes_out_the_next_working_morning_and_the_report_lists_it_five_working_days_on(
    city, liaisons, api
):
    calendar.seed_from_chinese_calendar()
    with time_machine.travel(START, tick=False):
        ticket = make_ticket(city, State.IN_PROGRESS, unit=city.street)
    due = ticket.resolve_due_at
    assert due == dt.datetime(2026, 11, 9, 23, 59, 59, tzinfo=CST)

    sla_sweep(now=due + dt.timedelta(seconds=1))
    assert Ticket.objects.get(id=ticket.id).next_check_at == dt.datetime(2026, 11, 10, 9, 0, tzinfo=CST)
    sla_sweep(now=dt.datetime(2026, 11, 10, 8, 59, tzinfo=CST))
    assert _told(ticket, Notification.Kind.URGING) == set()
    sla_sweep(now=dt.datetime(2026, 11, 10, 9, 0, 1, tzinfo=CST))
    assert _told(ticket, Notification.Kind.URGING) == {"wuchang-zhongnan", "wuchang"}

    # Five working days after Monday 9 Nov: the end of Monday 16 Nov.
    assert api(city.dispatcher).get(OVERDUE_URL).json()["results"] == []
    sla_sweep(now=dt.datetime(2026, 11, 16, 23, 59, 58, tzinfo=CST))
    assert (AlertLevel.OVERDUE not in {level for _stage, level in _cards(ticket)})
    sla_sweep(now=dt.datetime(2026, 11, 17, 0, 0, tzinfo=CST))
    assert _cards(ticket)[-3:] == [("resolve", "red"), ("resolve", "urge"), ("resolve", "overdue")]
    assert Ticket.objects.get(id=ticket.id).next_check_at is None

    listed = api(city.dispatcher).get(OVERDUE_URL).json()["results"]
    assert [row["number"] for row in listed] == [ticket.number]
    assert [r["number"] for r in api(city.street_handler).get(OVERDUE_URL).json()["results"]] == [ticket.number]
    assert api(city.handler).get(OVERDUE_URL).json()["results"] == []


def test_a_ticket_resolved_or_extended_leaves_the_overdue_report(city, liaisons, api):
    from tickets import services

    with time_machine.travel(START, tick=False):
        ticket = make_ticket(city, State.IN_PROGRESS)
    sla_sweep(now=ticket.resolve_due_at + dt.timedelta(days=10))
    assert len(api(city.dispatcher).get(OVERDUE_URL).json()["results"]) == 1

    services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply="已处理")

    assert api(city.dispatcher).get(OVERDUE_URL).json()["results"] == []


def test_the_admins_overdue_filter_lists_what_the_report_lists_within_the_users_scope(city, liaisons, client):
    with time_machine.travel(START, tick=False):
        listed = make_ticket(city, State.IN_PROGRESS)
        on_time = make_ticket(city, State.IN_PROGRESS, unit=city.street)
    Ticket.objects.filter(id=on_time.id).update(resolve_due_at=listed.resolve_due_at + dt.timedelta(days=60))
    sla_sweep(now=listed.resolve_due_at + dt.timedelta(days=10))

    for user, expected in ((city.dispatcher, {listed.number}), (city.handler, {listed.number}),
                           (city.street_handler, set())):
        client.force_login(user)
        html = client.get("/admin/tickets/ticket/?overdue=listed").content.decode()
        assert {n for n in (listed.number, on_time.number) if n in html} == expected, user.username


def test_a_sweep_long_after_everything_raises_red_urging_and_listing_but_no_stale_yellow(city, liaisons):
    with time_machine.travel(START, tick=False):
        ticket = make_ticket(city, State.IN_PROGRESS)

    sla_sweep(now=ticket.resolve_due_at + dt.timedelta(days=30))

    assert _cards(ticket) == [("resolve", "red"), ("resolve", "urge"), ("resolve", "overdue")]
    assert Ticket.objects.get(id=ticket.id).escalation_level == 1


def test_a_unit_without_a_liaison_gets_a_skipped_notice_so_staff_see_it(city):
    with time_machine.travel(START, tick=False):
        ticket = make_ticket(city, State.DISPATCHED)

    sla_sweep(now=ticket.claim_warn_at + dt.timedelta(seconds=1))

    notice = Notification.objects.get(ticket=ticket, kind=Notification.Kind.CLAIM_REMINDER)
    assert (notice.status, notice.address) == (Notification.Status.SKIPPED, "")
    assert "no liaison" in notice.last_error


def test_the_overdue_report_needs_an_account(api):
    assert_error(api().get(OVERDUE_URL), 401)
