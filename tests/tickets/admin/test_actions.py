"""Each button on a ticket's admin page: shown to the right role in the right state, a POST
that calls the service, a new event, and the refusals (wrong role, wrong state, bad input)."""

import datetime as dt
from dataclasses import dataclass
from typing import Callable

import pytest
from django.utils import timezone

from tests.factories import make_ticket
from tests.tickets.admin.helpers import CHANGELIST, action_url, change_url, history, post_action
from tickets import services
from tickets.models import ExtensionRequest, State, Ticket, TicketEvent


def _local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _paused(city) -> Ticket:
    ticket = make_ticket(city, State.IN_PROGRESS)
    services.ticket_pause(ticket_id=ticket.id, actor=city.handler, reason="请提供照片",
                          until=timezone.now() + dt.timedelta(days=2))
    return ticket


def _extension_pending(city) -> Ticket:
    ticket = make_ticket(city, State.IN_PROGRESS)
    services.ticket_request_extension(ticket_id=ticket.id, actor=city.handler, reason="需要协调",
                                      until=ticket.resolve_due_at + dt.timedelta(days=2))
    return ticket


@dataclass
class Case:
    action: str
    start: Callable
    who: str
    fields: Callable
    state: str
    kind: str


def _state(state):
    return lambda city: make_ticket(city, state)


def _none(city, ticket):
    return {}


CASES = [
    Case("accept", _state(State.REPORTED), "dispatcher", _none, State.ACCEPTED, "accept"),
    Case("reject", _state(State.REPORTED), "dispatcher", lambda c, t: {"reason": "不属于受理范围"},
         State.REJECTED, "reject"),
    Case("merge", _state(State.ACCEPTED), "dispatcher", lambda c, t: {"into": make_ticket(c).number},
         State.MERGED, "merge"),
    Case("dispatch", _state(State.ACCEPTED), "dispatcher",
         lambda c, t: {"unit": c.street.id, "final": "on"}, State.DISPATCHED, "dispatch"),
    Case("claim", _state(State.DISPATCHED), "handler", _none, State.IN_PROGRESS, "claim"),
    Case("return", _state(State.IN_PROGRESS), "handler",
         lambda c, t: {"reason": "wrong_territory", "comment": "不在我司管网"}, State.ACCEPTED, "return"),
    Case("request-extension", _state(State.IN_PROGRESS), "handler",
         lambda c, t: {"until": _local(t.resolve_due_at + dt.timedelta(days=2)), "reason": "需要协调施工"},
         State.IN_PROGRESS, "request_extension"),
    Case("pause", _state(State.IN_PROGRESS), "handler",
         lambda c, t: {"until": _local(timezone.now() + dt.timedelta(days=3)), "reason": "请提供停水照片"},
         State.IN_PROGRESS, "pause"),
    Case("resume", _paused, "handler", lambda c, t: {"note": "材料已到"}, State.IN_PROGRESS, "resume"),
    Case("resolve", _state(State.IN_PROGRESS), "handler", lambda c, t: {"reply": "已恢复供水"},
         State.RESOLVED, "resolve"),
    Case("verify", _state(State.RESOLVED), "dispatcher", _none, State.AWAITING_FEEDBACK, "verify"),
    Case("send-back", _state(State.RESOLVED), "dispatcher", lambda c, t: {"reason": "未附现场照片"},
         State.IN_PROGRESS, "send_back"),
    Case("decide-extension", _extension_pending, "dispatcher", lambda c, t: {"decision": "approve"},
         State.IN_PROGRESS, "extension_approved"),
    Case("archive", _state(State.CLOSED), "dispatcher", _none, State.ARCHIVED, "archive"),
]
OTHER_ROLE = {"dispatcher": "handler", "handler": "dispatcher"}


def _other_role(case: Case) -> str:
    # The centre's dispatcher may also restart a paused clock; its operator may not.
    return "operator" if case.action == "resume" else OTHER_ROLE[case.who]


@pytest.mark.parametrize("case", CASES, ids=[c.action for c in CASES])
def test_each_button_calls_its_service_and_the_ticket_moves_with_a_new_event(browse, city, case):
    ticket = case.start(city)
    user = getattr(city, case.who)
    client = browse(user)
    assert f'action="{action_url(ticket, case.action)}"' in client.get(change_url(ticket)).content.decode()
    events = TicketEvent.objects.filter(ticket=ticket).count()

    response = post_action(client, ticket, case.action, case.fields(city, ticket))

    assert response.status_code == 302, response.content.decode()[:2000]
    # A returned ticket leaves the unit's sight, so the handler goes back to the queue.
    assert response["Location"] == (CHANGELIST if case.action == "return" else change_url(ticket))
    ticket.refresh_from_db()
    assert ticket.state == case.state
    new = TicketEvent.objects.filter(ticket=ticket).order_by("id")[events:]
    assert [(e.kind, e.actor) for e in new] == [(case.kind, user)]
    page = client.get(response["Location"]).content.decode()
    assert "done. The ticket is now" in page


@pytest.mark.parametrize("case", CASES, ids=[c.action for c in CASES])
def test_the_other_role_sees_no_button_and_its_post_changes_nothing(browse, city, case):
    ticket = case.start(city)
    client = browse(getattr(city, _other_role(case)))
    page = client.get(change_url(ticket))
    assert f'action="{action_url(ticket, case.action)}"' not in page.content.decode()
    before = (Ticket.objects.get(id=ticket.id).state, history(ticket))

    response = post_action(client, ticket, case.action, case.fields(city, ticket))

    # 404 where the ticket is out of the user's sight (a handler and a ticket no unit holds).
    assert response.status_code in (403, 404)
    assert (Ticket.objects.get(id=ticket.id).state, history(ticket)) == before


@pytest.mark.parametrize("case", CASES, ids=[c.action for c in CASES])
def test_a_button_posted_in_the_wrong_state_is_refused_with_a_conflict(browse, city, case):
    ticket = make_ticket(city, State.ARCHIVED)
    client = browse(getattr(city, case.who))
    assert f'action="{action_url(ticket, case.action)}"' not in client.get(change_url(ticket)).content.decode()
    before = history(ticket)

    response = post_action(client, ticket, case.action, case.fields(city, ticket))

    assert response.status_code == 409
    assert "changed since the page was shown" in response.content.decode()
    assert Ticket.objects.get(id=ticket.id).state == State.ARCHIVED and history(ticket) == before


def test_a_lost_race_says_someone_else_changed_the_ticket_and_shows_its_state(browse, city):
    ticket = make_ticket(city, State.DISPATCHED)
    client = browse(city.handler)
    assert f'action="{action_url(ticket, "claim")}"' in client.get(change_url(ticket)).content.decode()
    services.ticket_claim(ticket_id=ticket.id, actor=city.unit_admin)  # a colleague was faster

    response = post_action(client, ticket, "claim")

    assert response.status_code == 409
    page = response.content.decode()
    assert "someone else may have acted on it" in page
    assert f'action="{action_url(ticket, "resolve")}"' in page  # the page shows the state it is in now
    assert [kind for kind, _state in history(ticket)].count("claim") == 1


def test_a_reason_left_empty_shows_the_form_again_with_its_error(browse, city):
    ticket = make_ticket(city, State.REPORTED)
    client = browse(city.dispatcher)

    response = post_action(client, ticket, "reject", {"reason": "  "})

    assert response.status_code == 400
    page = response.content.decode()
    assert '<details open>' in page and 'id="id_reject-reason_errors"' in page
    assert Ticket.objects.get(id=ticket.id).state == State.REPORTED


def test_a_return_for_other_reasons_needs_an_explanation_and_keeps_what_was_chosen(browse, city):
    ticket = make_ticket(city, State.IN_PROGRESS)
    client = browse(city.handler)

    response = post_action(client, ticket, "return", {"reason": "other", "comment": ""})

    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_return-comment_errors"' in page
    assert '<option value="other" selected>' in page
    assert Ticket.objects.get(id=ticket.id).state == State.IN_PROGRESS


def test_a_final_dispatch_hides_the_return_button_and_the_service_refuses_it(browse, city):
    ticket = make_ticket(city, State.ACCEPTED)
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher, final=True)
    client = browse(city.handler)
    assert f'action="{action_url(ticket, "return")}"' not in client.get(change_url(ticket)).content.decode()

    response = post_action(client, ticket, "return", {"reason": "wrong_territory"})

    assert response.status_code == 409
    assert Ticket.objects.get(id=ticket.id).state == State.DISPATCHED


@pytest.mark.parametrize("into", ["unknown", "closed", "itself"])
def test_merge_takes_only_an_open_ticket_the_dispatcher_can_find(browse, city, into):
    ticket = make_ticket(city, State.ACCEPTED)
    number = {
        "unknown": lambda: "2099010100000001",
        "closed": lambda: make_ticket(city, State.CLOSED).number,
        "itself": lambda: ticket.number,
    }[into]()

    response = post_action(browse(city.dispatcher), ticket, "merge", {"into": number})

    assert response.status_code == 400
    assert 'id="id_merge-into_errors"' in response.content.decode()
    assert Ticket.objects.get(id=ticket.id).state == State.ACCEPTED


def test_dispatch_suggests_the_categorys_unit_and_offers_only_handling_units(browse, city):
    ticket = make_ticket(city, State.ACCEPTED)

    page = browse(city.dispatcher).get(change_url(ticket)).content.decode()

    assert f'<option value="{city.bureau.id}" selected>' in page
    assert "suggested" in page
    assert f'<option value="{city.street.id}">' in page
    assert f'<option value="{city.centre.id}"' not in page


def test_deciding_an_extension_shows_the_request_and_a_refusal_keeps_the_deadline(browse, city):
    ticket = _extension_pending(city)
    due = Ticket.objects.get(id=ticket.id).resolve_due_at
    client = browse(city.dispatcher)
    assert "需要协调" in client.get(change_url(ticket)).content.decode()

    response = post_action(client, ticket, "decide-extension", {"decision": "refuse", "note": "请按期办结"})

    assert response.status_code == 302
    assert Ticket.objects.get(id=ticket.id).resolve_due_at == due
    assert ExtensionRequest.objects.get(ticket=ticket).status == ExtensionRequest.Status.REFUSED


def test_an_action_url_answers_only_posts(browse, city):
    ticket = make_ticket(city, State.DISPATCHED)
    assert browse(city.handler).get(action_url(ticket, "claim")).status_code == 405
    assert Ticket.objects.get(id=ticket.id).state == State.DISPATCHED


def test_an_unknown_action_is_not_found(browse, city):
    ticket = make_ticket(city, State.DISPATCHED)
    assert post_action(browse(city.handler), ticket, "teleport").status_code == 404


def test_a_supervisor_reads_its_subtrees_ticket_without_any_button(browse, city):
    ticket = make_ticket(city, State.DISPATCHED, unit=city.street)
    client = browse(city.supervisor)

    page = client.get(change_url(ticket))

    assert page.status_code == 200
    html = page.content.decode()
    assert "/actions/" not in html and "/reveal/" not in html
    assert post_action(client, ticket, "claim").status_code == 403
    assert Ticket.objects.get(id=ticket.id).state == State.DISPATCHED


def test_action_posts_need_the_csrf_token(city):
    from django.test import Client

    ticket = make_ticket(city, State.DISPATCHED)
    client = Client(enforce_csrf_checks=True)
    client.force_login(city.handler)

    assert post_action(client, ticket, "claim").status_code == 403
    assert Ticket.objects.get(id=ticket.id).state == State.DISPATCHED
