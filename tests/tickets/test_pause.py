"""Pauses for the citizen's material (补充材料): the resolve clock stops, visibly and within limits."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone, translation

from departments.models import DeadlineUnit
from tests.factories import make_category, make_ticket
from tests.tickets.api.helpers import act, assert_error, ticket_url
from tickets import services
from tickets.errors import Conflict, InvalidInput, NotAllowed
from tickets.models import DeadlineAlert, Notification, State, Ticket, TicketEvent
from tickets.sla import sla_sweep

START = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Monday


@pytest.fixture(autouse=True)
def _english():
    """The services' refusals are read in English here (they follow the active language)."""
    with translation.override("en"):
        yield


@pytest.fixture
def ticket(city):
    with time_machine.travel(START, tick=False):
        return make_ticket(city, State.IN_PROGRESS)


@pytest.fixture
def on_time(ticket):
    """A clock in the ticket's own week, its resolve deadline still ahead (and ticking)."""
    with time_machine.travel(START + dt.timedelta(hours=1)):
        yield


def _pause(city, ticket, *, days: float = 3, reason: str = "请补充房屋产权证明", actor=None):
    return services.ticket_pause(
        ticket_id=ticket.id, actor=actor or city.handler, reason=reason,
        until=timezone.now() + dt.timedelta(days=days),
    )


def test_a_pause_stops_the_clock_and_tells_the_citizen_what_is_needed(city, ticket):
    with time_machine.travel(START + dt.timedelta(hours=1), tick=False):
        paused = _pause(city, ticket)

    assert paused.paused_at == START + dt.timedelta(hours=1)
    assert paused.paused_until == START + dt.timedelta(days=3, hours=1)
    assert (paused.due_at, paused.warn_at) == (None, None)
    assert paused.next_check_at == paused.paused_until
    event = paused.events.latest("id")
    assert (event.kind, event.is_public, event.note) == ("pause", True, "请补充房屋产权证明")
    sms = Notification.objects.get(event=event)
    assert (sms.kind, sms.address) == (Notification.Kind.PAUSE, "13800138000")
    assert "请补充房屋产权证明" in sms.body


def test_a_paused_ticket_earns_no_card_even_past_its_old_deadline(city, ticket):
    with time_machine.travel(START + dt.timedelta(hours=1), tick=False):
        _pause(city, ticket, days=10)

    sla_sweep(now=ticket.resolve_due_at + dt.timedelta(days=1))

    assert not DeadlineAlert.objects.filter(ticket=ticket, stage="resolve").exists()


def test_resuming_moves_an_hours_deadline_on_by_exactly_the_time_paused(city):
    make_category(resolve_amount=48, resolve_unit=DeadlineUnit.HOURS)
    with time_machine.travel(START, tick=False):
        ticket = make_ticket(city, State.IN_PROGRESS)
    with time_machine.travel(START + dt.timedelta(hours=2), tick=False):
        _pause(city, ticket)
    with time_machine.travel(START + dt.timedelta(hours=7, minutes=30), tick=False):
        resumed = services.ticket_resume(ticket_id=ticket.id, actor=city.handler, note="材料已收到")

    shift = dt.timedelta(hours=5, minutes=30)
    assert resumed.resolve_due_at == ticket.resolve_due_at + shift
    assert resumed.resolve_warn_at == ticket.resolve_warn_at + shift
    assert resumed.paused_at is None and resumed.paused_seconds == shift.total_seconds()
    assert resumed.due_at == resumed.resolve_due_at and resumed.next_check_at == resumed.resolve_warn_at


def _local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=START.tzinfo)


@pytest.mark.parametrize(
    ("paused", "resumed", "due_day"),
    [
        # Tuesday to Saturday: Wednesday, Thursday and Friday were paused.
        pytest.param(_local(3, 10), _local(7, 10), 12, id="tuesday-to-saturday-3-days"),
        # An hour on one day costs the unit no working day.
        pytest.param(_local(4, 9), _local(4, 10), 9, id="an-hour-0-days"),
        # Friday evening to Monday morning: the weekend is not working time; Monday is.
        pytest.param(_local(6, 17), _local(9, 9), 10, id="over-the-weekend-1-day"),
    ],
)
def test_resuming_moves_a_working_day_deadline_by_the_working_days_paused(city, ticket, paused, resumed,
                                                                           due_day):
    assert ticket.resolve_due_at == _local(9, 23, 59) + dt.timedelta(seconds=59)  # 5 working days
    with time_machine.travel(paused, tick=False):
        _pause(city, ticket, days=10)
    with time_machine.travel(resumed, tick=False):
        after = services.ticket_resume(ticket_id=ticket.id, actor=city.dispatcher)

    assert after.resolve_due_at == _local(due_day, 23, 59) + dt.timedelta(seconds=59)
    assert after.resolve_warn_at - ticket.resolve_warn_at == after.resolve_due_at - ticket.resolve_due_at


def test_a_pause_and_resume_after_the_yellow_card_raise_no_second_one(city, ticket):
    with time_machine.travel(ticket.resolve_warn_at + dt.timedelta(minutes=1), tick=False):
        assert sla_sweep(now=timezone.now()) == 1
        _pause(city, ticket, days=3)
    resumed_at = ticket.resolve_warn_at + dt.timedelta(days=2, hours=1)
    with time_machine.travel(resumed_at, tick=False):
        after = services.ticket_resume(ticket_id=ticket.id, actor=city.handler)
        assert after.resolve_warn_at < resumed_at < after.resolve_due_at
        assert sla_sweep(now=timezone.now()) == 0

    yellow = DeadlineAlert.objects.get(ticket=ticket, stage="resolve", level="yellow")
    assert (yellow.due_at, yellow.warn_at) == (after.resolve_due_at, after.resolve_warn_at)
    assert Notification.objects.filter(ticket=ticket, kind=Notification.Kind.WARNING).count() == 1


def test_a_pause_after_the_deadline_is_refused_and_the_ticket_stays_overdue(city, ticket):
    with time_machine.travel(ticket.resolve_due_at + dt.timedelta(hours=1), tick=False):
        with pytest.raises(Conflict, match="deadline has passed"):
            _pause(city, ticket)

    after = Ticket.objects.get(id=ticket.id)
    assert (after.paused_at, after.pause_count, after.resolve_due_at) == (None, 0, ticket.resolve_due_at)
    assert not after.events.filter(kind="pause").exists()


def test_a_unit_the_ticket_is_returned_from_leaves_the_next_one_its_pauses(city, ticket, settings):
    settings.MINHU_PAUSE_MAX_COUNT = 1
    with time_machine.travel(START + dt.timedelta(hours=1), tick=False):
        _pause(city, ticket, days=1)
        services.ticket_resume(ticket_id=ticket.id, actor=city.handler)
        returned = services.ticket_return(ticket_id=ticket.id, actor=city.handler, reason="wrong_territory")

    assert (returned.state, returned.pause_count) == (State.ACCEPTED, 0)


def test_the_sweep_restarts_the_clock_when_a_pause_runs_out(city, ticket):
    with time_machine.travel(START + dt.timedelta(hours=1), tick=False):
        paused = _pause(city, ticket, days=2)

    sla_sweep(now=paused.paused_until + dt.timedelta(seconds=10))

    resumed = Ticket.objects.get(id=ticket.id)
    assert resumed.paused_at is None
    assert resumed.resolve_due_at == dt.datetime(2026, 11, 11, 23, 59, 59, tzinfo=START.tzinfo)
    event = resumed.events.latest("id")
    assert (event.kind, event.actor, event.payload["automatic"]) == ("resume", None, True)
    assert resumed.next_check_at == resumed.resolve_warn_at


def test_resolving_while_paused_counts_the_pause_for_the_unit(city, ticket):
    with time_machine.travel(START + dt.timedelta(hours=1), tick=False):
        _pause(city, ticket, days=10)
    with time_machine.travel(START + dt.timedelta(days=3, hours=1), tick=False):
        resolved = services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply="已处理")

    assert resolved.paused_at is None and resolved.paused_seconds == 3 * 86400
    assert resolved.resolve_due_at > ticket.resolve_due_at


def test_a_pause_on_a_closed_ticket_is_refused_and_changes_nothing(city):
    closed = make_ticket(city, State.CLOSED)
    with pytest.raises(Conflict):
        _pause(city, closed)
    assert Ticket.objects.get(id=closed.id).pause_count == 0


def test_only_the_units_staff_pause_and_the_centre_may_resume(city, ticket, on_time):
    with pytest.raises(NotAllowed):
        _pause(city, ticket, actor=city.dispatcher)
    with pytest.raises(NotAllowed):
        _pause(city, ticket, actor=city.other_handler)
    _pause(city, ticket)
    with pytest.raises(NotAllowed):
        services.ticket_resume(ticket_id=ticket.id, actor=city.other_handler)
    assert services.ticket_resume(ticket_id=ticket.id, actor=city.dispatcher).paused_at is None


def test_a_second_pause_while_paused_and_a_resume_when_running_are_conflicts(city, ticket, on_time):
    with pytest.raises(Conflict, match="not paused"):
        services.ticket_resume(ticket_id=ticket.id, actor=city.handler)
    _pause(city, ticket)
    with pytest.raises(Conflict, match="already paused"):
        _pause(city, ticket)


def test_pauses_are_limited_in_number_and_length(city, ticket, settings, on_time):
    settings.MINHU_PAUSE_MAX_COUNT, settings.MINHU_PAUSE_MAX_DAYS = 2, 15
    with pytest.raises(InvalidInput, match="within 15 days"):
        _pause(city, ticket, days=16)
    with pytest.raises(InvalidInput):
        _pause(city, ticket, days=-1)
    for _ in range(2):
        _pause(city, ticket)
        services.ticket_resume(ticket_id=ticket.id, actor=city.handler)
    events = TicketEvent.objects.filter(ticket=ticket).count()

    with pytest.raises(Conflict, match="2 pause"):
        _pause(city, ticket)

    after = Ticket.objects.get(id=ticket.id)
    assert (after.pause_count, after.paused_at) == (2, None)
    assert TicketEvent.objects.filter(ticket=ticket).count() == events


def test_the_api_pauses_and_shows_the_pause_on_the_ticket(city, api, ticket, on_time):
    until = timezone.now() + dt.timedelta(days=2)
    response = act(api(city.handler), ticket, "pause", {"until": until.isoformat(), "reason": "请补充照片"})

    assert response.status_code == 200, response.content
    data = response.json()
    assert dt.datetime.fromisoformat(data["paused_until"]) == until.replace(microsecond=until.microsecond)
    assert data["events"][-1]["kind"] == "pause"
    assert api(city.handler).get(ticket_url(ticket)).json()["paused_until"] is not None

    resumed = act(api(city.handler), ticket, "resume", {"comment": "材料已收到"})
    assert resumed.status_code == 200, resumed.content
    assert resumed.json()["paused_until"] is None


def test_the_api_refuses_a_pause_without_its_arguments_or_beyond_the_limit(city, api, ticket, on_time):
    client = api(city.handler)
    assert "until" in assert_error(act(client, ticket, "pause", {"reason": "请补充"}), 400)["fields"]
    assert "reason" in assert_error(
        act(client, ticket, "pause", {"until": (timezone.now() + dt.timedelta(days=1)).isoformat()}), 400
    )["fields"]
    far = (timezone.now() + dt.timedelta(days=60)).isoformat()
    assert "until" in assert_error(act(client, ticket, "pause", {"until": far, "reason": "请补充"}), 400)["fields"]
    assert Ticket.objects.get(id=ticket.id).paused_at is None


def test_extensions_are_asked_for_and_approved_only_while_the_clock_runs(city):
    make_category(resolve_amount=48, resolve_unit=DeadlineUnit.HOURS)
    with time_machine.travel(START, tick=False):
        ticket = make_ticket(city, State.IN_PROGRESS)
        services.ticket_request_extension(ticket_id=ticket.id, actor=city.handler, reason="需要协调施工单位",
                                          until=ticket.resolve_due_at + dt.timedelta(hours=24))
        _pause(city, ticket, days=3)
        with pytest.raises(Conflict, match="paused"):
            services.ticket_decide_extension(ticket_id=ticket.id, actor=city.dispatcher, approve=True)
        with pytest.raises(Conflict, match="paused"):
            services.ticket_request_extension(ticket_id=ticket.id, actor=city.handler, reason="再次申请",
                                              until=ticket.resolve_due_at + dt.timedelta(hours=30))
    with time_machine.travel(START + dt.timedelta(hours=30), tick=False):
        resumed = services.ticket_resume(ticket_id=ticket.id, actor=city.handler)
        # The pause moved the deadline past the date asked for: approving would bring it forward.
        with pytest.raises(Conflict, match="already at or after"):
            services.ticket_decide_extension(ticket_id=ticket.id, actor=city.dispatcher, approve=True)
        services.ticket_decide_extension(ticket_id=ticket.id, actor=city.dispatcher, approve=False)

    after = Ticket.objects.get(id=ticket.id)
    assert after.resolve_due_at == resumed.resolve_due_at == ticket.resolve_due_at + dt.timedelta(hours=30)
    assert not after.events.filter(kind="extension_approved").exists()
