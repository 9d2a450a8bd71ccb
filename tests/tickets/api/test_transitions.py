"""POST /api/v1/tickets/{number}/{transition}/: 200, 400, 403 and 409 for every transition."""

import datetime as dt

import pytest

from tests.factories import make_ticket
from tests.tickets.api.helpers import TICKET_KEYS, VALID_BODIES, act, assert_error
from tickets.models import State, Ticket, TicketEvent


def _no_body(ticket, city):
    return {}


def _merge_body(ticket, city):
    return {"into": make_ticket(city).number}


def _extension_body(ticket, city):
    until = ticket.resolve_due_at + dt.timedelta(days=2)
    return {"until": until.isoformat(), "reason": "需要协调施工"}


# (transition, from state, who, body, new state, event kind) — the happy path of design §2;
# `return` has its own module.
HAPPY = [
    ("accept", State.REPORTED, "dispatcher", _no_body, State.ACCEPTED, "accept"),
    ("reject", State.REPORTED, "dispatcher", lambda t, c: {"reason": "广告信息"}, State.REJECTED,
     "reject"),
    ("merge", State.REPORTED, "dispatcher", _merge_body, State.MERGED, "merge"),
    ("merge", State.ACCEPTED, "dispatcher", _merge_body, State.MERGED, "merge"),
    ("dispatch", State.ACCEPTED, "dispatcher", lambda t, c: {"unit": "water-group"},
     State.DISPATCHED, "dispatch"),
    ("dispatch", State.REPORTED, "dispatcher", lambda t, c: {"unit": "wuchang-zhongnan"},
     State.DISPATCHED, "dispatch"),
    ("claim", State.DISPATCHED, "handler", _no_body, State.IN_PROGRESS, "claim"),
    ("claim", State.DISPATCHED, "unit_admin", _no_body, State.IN_PROGRESS, "claim"),
    ("request-extension", State.IN_PROGRESS, "handler", _extension_body, State.IN_PROGRESS,
     "request_extension"),
    ("resolve", State.IN_PROGRESS, "handler", lambda t, c: {"reply": "已修复管道"}, State.RESOLVED,
     "resolve"),
    ("verify", State.RESOLVED, "dispatcher", _no_body, State.AWAITING_FEEDBACK, "verify"),
    ("send-back", State.RESOLVED, "dispatcher", lambda t, c: {"reason": "回复不完整"},
     State.IN_PROGRESS, "send_back"),
    ("rate", State.AWAITING_FEEDBACK, "operator", lambda t, c: {"rating": "satisfied"},
     State.CLOSED, "rate"),
    ("rate", State.AWAITING_FEEDBACK, "dispatcher",
     lambda t, c: {"rating": "basically_satisfied", "comment": "还行"}, State.CLOSED, "rate"),
    ("archive", State.CLOSED, "dispatcher", _no_body, State.ARCHIVED, "archive"),
    ("archive", State.REJECTED, "dispatcher", _no_body, State.ARCHIVED, "archive"),
    ("archive", State.MERGED, "dispatcher", _no_body, State.ARCHIVED, "archive"),
]


@pytest.mark.parametrize(
    ("transition", "state", "role", "body", "target", "kind"),
    HAPPY,
    ids=[f"{row[0]}-from-{row[1]}-by-{row[2]}" for row in HAPPY],
)
def test_transition_answers_200_with_the_ticket_in_its_new_state(
    city, api, transition, state, role, body, target, kind
):
    ticket = make_ticket(city, state)
    events = TicketEvent.objects.filter(ticket=ticket).count()

    response = act(api(getattr(city, role)), ticket, transition, body(ticket, city))

    assert response.status_code == 200, response.content
    data = response.json()
    assert TICKET_KEYS <= set(data)
    assert data["number"] == ticket.number
    assert data["state"] == target
    assert data["events"][-1]["kind"] == kind
    assert data["events"][-1]["to_state"] == target
    assert data["events"][-1]["actor"] == getattr(city, role).username
    assert Ticket.objects.get(id=ticket.id).state == target
    assert TicketEvent.objects.filter(ticket=ticket).count() == events + 1


def test_dispatch_sets_the_unit_and_the_final_flag(city, api):
    ticket = make_ticket(city, State.ACCEPTED)
    body = {"unit": "power-supply", "final": True}

    response = act(api(city.dispatcher), ticket, "dispatch", body)

    data = response.json()
    assert data["unit"] == "power-supply"
    assert data["is_final_dispatch"] is True
    assert data["events"][-1]["unit"] == "power-supply"


def test_resolve_stores_the_reply(city, api):
    ticket = make_ticket(city, State.IN_PROGRESS)

    act(api(city.handler), ticket, "resolve", {"reply": "已更换阀门"})

    assert Ticket.objects.get(id=ticket.id).reply == "已更换阀门"


def test_send_back_keeps_the_unit_and_its_resolve_deadline(city, api):
    ticket = make_ticket(city, State.RESOLVED)

    data = act(api(city.dispatcher), ticket, "send-back", {"reason": "照片不清楚"}).json()

    assert data["unit"] == "water-group"
    assert dt.datetime.fromisoformat(data["deadlines"]["resolve"]) == ticket.resolve_due_at


# (transition, state, who) — a person whose role or unit may not do it, on a ticket they see.
WRONG_ROLE = [
    ("accept", State.REPORTED, "operator"),
    ("reject", State.REPORTED, "operator"),
    ("merge", State.ACCEPTED, "operator"),
    ("dispatch", State.ACCEPTED, "operator"),
    ("dispatch", State.DISPATCHED, "handler"),
    ("claim", State.DISPATCHED, "dispatcher"),
    ("claim", State.DISPATCHED, "operator"),
    ("return", State.DISPATCHED, "dispatcher"),
    ("request-extension", State.IN_PROGRESS, "dispatcher"),
    ("approve-extension", State.IN_PROGRESS, "handler"),
    ("refuse-extension", State.IN_PROGRESS, "handler"),
    ("approve-extension", State.IN_PROGRESS, "operator"),
    ("resolve", State.IN_PROGRESS, "dispatcher"),
    ("verify", State.RESOLVED, "handler"),
    ("verify", State.RESOLVED, "operator"),
    ("send-back", State.RESOLVED, "handler"),
    ("rate", State.AWAITING_FEEDBACK, "handler"),
    ("expire-feedback", State.AWAITING_FEEDBACK, "dispatcher"),
    ("expire-feedback", State.AWAITING_FEEDBACK, "operator"),
    ("expire-feedback", State.AWAITING_FEEDBACK, "handler"),
    ("archive", State.CLOSED, "handler"),
    ("archive", State.CLOSED, "operator"),
]


@pytest.mark.parametrize(
    ("transition", "state", "role"), WRONG_ROLE, ids=[f"{t}-by-{r}" for t, _, r in WRONG_ROLE]
)
def test_wrong_role_is_403_and_changes_nothing(city, api, transition, state, role):
    ticket = make_ticket(city, state)
    body = _merge_body(ticket, city) if transition == "merge" else VALID_BODIES.get(transition, {})
    events = TicketEvent.objects.filter(ticket=ticket).count()

    response = act(api(getattr(city, role)), ticket, transition, body)

    assert_error(response, 403, "forbidden")
    assert Ticket.objects.get(id=ticket.id).state == state
    assert TicketEvent.objects.filter(ticket=ticket).count() == events


def test_expire_feedback_is_refused_to_every_person_even_a_superuser(city, api, django_user_model):
    ticket = make_ticket(city, State.AWAITING_FEEDBACK)
    root = django_user_model.objects.create_superuser("root", password="pw-for-tests-1")

    response = act(api(root), ticket, "expire-feedback")

    assert_error(response, 403, "forbidden")
    assert Ticket.objects.get(id=ticket.id).state == State.AWAITING_FEEDBACK


# (transition, state, who) — the right person, but the ticket is in the wrong state.
WRONG_STATE = [
    ("accept", State.ACCEPTED, "dispatcher"),
    ("accept", State.ARCHIVED, "dispatcher"),
    ("reject", State.ACCEPTED, "dispatcher"),
    ("merge", State.DISPATCHED, "dispatcher"),
    ("dispatch", State.DISPATCHED, "dispatcher"),
    ("dispatch", State.CLOSED, "dispatcher"),
    ("claim", State.IN_PROGRESS, "handler"),
    ("return", State.RESOLVED, "handler"),
    ("request-extension", State.DISPATCHED, "handler"),
    ("approve-extension", State.IN_PROGRESS, "dispatcher"),
    ("refuse-extension", State.IN_PROGRESS, "dispatcher"),
    ("resolve", State.DISPATCHED, "handler"),
    ("resolve", State.RESOLVED, "handler"),
    ("verify", State.IN_PROGRESS, "dispatcher"),
    ("send-back", State.AWAITING_FEEDBACK, "dispatcher"),
    ("rate", State.CLOSED, "operator"),
    ("archive", State.AWAITING_FEEDBACK, "dispatcher"),
    ("archive", State.ARCHIVED, "dispatcher"),
]


@pytest.mark.parametrize(
    ("transition", "state", "role"), WRONG_STATE, ids=[f"{t}-from-{s}" for t, s, _ in WRONG_STATE]
)
def test_wrong_state_is_409_and_changes_nothing(city, api, transition, state, role):
    ticket = make_ticket(city, state)
    body = _merge_body(ticket, city) if transition == "merge" else VALID_BODIES.get(transition, {})
    events = TicketEvent.objects.filter(ticket=ticket).count()

    response = act(api(getattr(city, role)), ticket, transition, body)

    assert_error(response, 409, "conflict")
    assert Ticket.objects.get(id=ticket.id).state == state
    assert TicketEvent.objects.filter(ticket=ticket).count() == events


def test_the_same_transition_twice_is_a_conflict_the_second_time(city, api):
    ticket = make_ticket(city, State.DISPATCHED)
    client = api(city.handler)

    first = act(client, ticket, "claim")
    second = act(client, ticket, "claim")

    assert first.status_code == 200
    assert_error(second, 409, "conflict")
    assert TicketEvent.objects.filter(ticket=ticket, kind="claim").count() == 1


# (transition, state, who, body, field) — arguments missing or wrong.
BAD_ARGUMENTS = [
    ("reject", State.REPORTED, "dispatcher", {}, "reason"),
    ("reject", State.REPORTED, "dispatcher", {"reason": "   "}, "reason"),
    ("merge", State.REPORTED, "dispatcher", {}, "into"),
    ("merge", State.REPORTED, "dispatcher", {"into": "2601019999999"}, "into"),
    ("dispatch", State.ACCEPTED, "dispatcher", {}, "unit"),
    ("dispatch", State.ACCEPTED, "dispatcher", {"unit": "atlantis"}, "unit"),
    ("dispatch", State.ACCEPTED, "dispatcher", {"unit": "centre"}, "unit"),
    ("dispatch", State.ACCEPTED, "dispatcher", {"unit": "water-group", "final": "maybe"}, "final"),
    ("return", State.DISPATCHED, "handler", {}, "reason"),
    ("return", State.DISPATCHED, "handler", {"reason": "other"}, "comment"),
    ("return", State.DISPATCHED, "handler", {"reason": "other", "comment": "  "}, "comment"),
    ("request-extension", State.IN_PROGRESS, "handler", {"reason": "需要协调"}, "until"),
    ("request-extension", State.IN_PROGRESS, "handler", {"until": "2099-01-01T12:00:00+08:00"},
     "reason"),
    ("request-extension", State.IN_PROGRESS, "handler", {"until": "soon", "reason": "需要协调"},
     "until"),
    ("resolve", State.IN_PROGRESS, "handler", {}, "reply"),
    ("resolve", State.IN_PROGRESS, "handler", {"reply": ""}, "reply"),
    ("send-back", State.RESOLVED, "dispatcher", {}, "reason"),
    ("rate", State.AWAITING_FEEDBACK, "operator", {}, "rating"),
    ("rate", State.AWAITING_FEEDBACK, "operator", {"rating": "great"}, "rating"),
]


@pytest.mark.parametrize(
    ("transition", "state", "role", "body", "field"),
    BAD_ARGUMENTS,
    ids=[f"{t}-{f}-{i}" for i, (t, _, _, _, f) in enumerate(BAD_ARGUMENTS)],
)
def test_bad_arguments_are_400_with_the_field_and_change_nothing(
    city, api, transition, state, role, body, field
):
    ticket = make_ticket(city, state)
    events = TicketEvent.objects.count()

    response = act(api(getattr(city, role)), ticket, transition, body)

    data = assert_error(response, 400, "invalid")
    assert field in data["fields"], data
    assert Ticket.objects.get(id=ticket.id).state == state
    assert TicketEvent.objects.count() == events


def test_dispatch_to_an_inactive_unit_is_refused(city, api):
    city.other_bureau.is_active = False
    city.other_bureau.save()
    ticket = make_ticket(city, State.ACCEPTED)

    response = act(api(city.dispatcher), ticket, "dispatch", {"unit": "power-supply"})

    assert "unit" in assert_error(response, 400)["fields"]
    assert Ticket.objects.get(id=ticket.id).state == State.ACCEPTED


def test_transition_of_an_unknown_ticket_is_404(city, api):
    response = api(city.dispatcher).post("/api/v1/tickets/2601019999999/accept/", {}, format="json")

    assert_error(response, 404, "not_found")


def test_archived_ticket_refuses_every_transition(city, api):
    ticket = make_ticket(city, State.ARCHIVED)
    client = api(city.dispatcher)

    for transition, body in [("accept", {}), ("reject", {"reason": "x"}), ("archive", {}),
                             ("dispatch", {"unit": "water-group"}), ("verify", {})]:
        assert_error(act(client, ticket, transition, body), 409)

    assert Ticket.objects.get(id=ticket.id).state == State.ARCHIVED
