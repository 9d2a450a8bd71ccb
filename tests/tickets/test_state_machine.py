"""Every transition from every state, for every role: the table of design §2, checked."""

import pytest

from tests.factories import make_ticket
from tickets import services
from tickets.errors import Conflict, NotAllowed
from tickets.models import State, Ticket, TicketEvent

# Written from the design's table, not from the code.
ALLOWED_FROM = {
    "accept": {State.REPORTED},
    "reject": {State.REPORTED},
    "merge": {State.REPORTED, State.ACCEPTED},
    "dispatch": {State.REPORTED, State.ACCEPTED},
    "claim": {State.DISPATCHED},
    "return": {State.DISPATCHED, State.IN_PROGRESS},
    "request_extension": {State.IN_PROGRESS},
    "pause": {State.IN_PROGRESS},
    "resolve": {State.IN_PROGRESS},
    "verify": {State.RESOLVED},
    "send_back": {State.RESOLVED},
    "rate": {State.AWAITING_FEEDBACK},
    "expire_feedback": {State.AWAITING_FEEDBACK},
    "archive": {State.CLOSED, State.REJECTED, State.MERGED},
}
TARGET = {
    "accept": State.ACCEPTED,
    "reject": State.REJECTED,
    "merge": State.MERGED,
    "dispatch": State.DISPATCHED,
    "claim": State.IN_PROGRESS,
    "return": State.ACCEPTED,
    "request_extension": State.IN_PROGRESS,
    "pause": State.IN_PROGRESS,
    "resolve": State.RESOLVED,
    "verify": State.AWAITING_FEEDBACK,
    "send_back": State.IN_PROGRESS,
    "rate": State.CLOSED,
    "expire_feedback": State.CLOSED,
    "archive": State.ARCHIVED,
}
CENTRE = {"dispatcher", "system"}  # the system: auto-dispatch rules, Celery tasks
UNIT = {"handler", "unit_admin"}
ROLES_FOR = {
    "accept": CENTRE, "reject": CENTRE, "merge": CENTRE, "dispatch": CENTRE, "verify": CENTRE,
    "send_back": CENTRE, "archive": CENTRE,
    "claim": UNIT, "return": UNIT, "request_extension": UNIT, "pause": UNIT, "resolve": UNIT,
    "rate": {"operator", "dispatcher", "system"},
    "expire_feedback": {"system"},
}
ROLES = ["operator", "dispatcher", "handler", "unit_admin", "other_handler", "supervisor", "system"]


def _call(name, ticket, actor, city):
    import datetime as dt

    from django.utils import timezone

    args = {"ticket_id": ticket.id, "actor": actor}
    if name == "expire_feedback":
        window_passed = (ticket.feedback_due_at or timezone.now()) + dt.timedelta(seconds=1)
        return services.ticket_expire_feedback(**args, now=window_passed)
    return {
        "accept": lambda: services.ticket_accept(**args),
        "reject": lambda: services.ticket_reject(**args, reason="广告信息"),
        "merge": lambda: services.ticket_merge(**args, into_id=make_ticket(city).id),
        "dispatch": lambda: services.ticket_dispatch(**args, unit=city.bureau),
        "claim": lambda: services.ticket_claim(**args),
        "return": lambda: services.ticket_return(**args, reason="wrong_territory"),
        "request_extension": lambda: services.ticket_request_extension(
            **args, until=(ticket.resolve_due_at or timezone.now()) + dt.timedelta(days=3),
            reason="需要协调施工",
        ),
        "pause": lambda: services.ticket_pause(
            **args, until=timezone.now() + dt.timedelta(days=3), reason="请补充房屋产权证明",
        ),
        "resolve": lambda: services.ticket_resolve(**args, reply="已修复管道"),
        "verify": lambda: services.ticket_verify(**args),
        "send_back": lambda: services.ticket_send_back(**args, reason="回复不完整"),
        "rate": lambda: services.ticket_rate(**args, rating="satisfied"),
        "archive": lambda: services.ticket_archive(**args),
    }[name]()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(ALLOWED_FROM))
@pytest.mark.parametrize("state", list(State))
def test_transition_outcome_follows_the_design_table(city, state, name, role):
    ticket = make_ticket(city, state)
    actor = None if role == "system" else getattr(city, role)
    events_before = TicketEvent.objects.filter(ticket=ticket).count()

    role_ok = role in ROLES_FOR[name]
    if role in UNIT:  # a unit's staff act only on tickets their unit holds
        role_ok = role_ok and ticket.unit_id == city.bureau.id
    state_ok = state in ALLOWED_FROM[name]
    if not role_ok:
        with pytest.raises(NotAllowed):
            _call(name, ticket, actor, city)
    elif not state_ok:
        with pytest.raises(Conflict):
            _call(name, ticket, actor, city)
    else:
        _call(name, ticket, actor, city)

    ticket_after = Ticket.objects.get(id=ticket.id)
    events_after = TicketEvent.objects.filter(ticket=ticket).count()
    if role_ok and state_ok:
        assert ticket_after.state == TARGET[name]
        assert events_after == events_before + 1
        last = TicketEvent.objects.filter(ticket=ticket).latest("id")
        assert last.from_state == state and last.to_state == TARGET[name]
    else:
        assert ticket_after.state == state, "a refused transition changed the state"
        assert events_after == events_before, "a refused transition wrote an event"
