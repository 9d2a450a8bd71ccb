"""Extension requests (延期): the unit asks for a later resolve deadline, the centre decides."""

import datetime as dt

import pytest
import time_machine

from departments import calendar
from tests.factories import make_ticket
from tests.tickets.api.helpers import act, assert_error
from tickets import services
from tickets.models import ExtensionRequest, Notification, State, Ticket, TicketEvent


def _resolve_due(data: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(data["deadlines"]["resolve"])


def _request(api, city, ticket, until: dt.datetime, reason: str = "需要协调施工单位"):
    body = {"until": until.isoformat(), "reason": reason}
    return act(api(city.handler), ticket, "request-extension", body)


@pytest.fixture
def ticket(city):
    return make_ticket(city, State.IN_PROGRESS)


def test_request_keeps_the_ticket_in_progress_and_the_deadline_unchanged(city, api, ticket):
    response = _request(api, city, ticket, ticket.resolve_due_at + dt.timedelta(days=3))

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["state"] == "in_progress"
    assert _resolve_due(data) == ticket.resolve_due_at
    assert data["events"][-1]["kind"] == "request_extension"
    assert ExtensionRequest.objects.get(ticket=ticket).status == ExtensionRequest.Status.PENDING


def test_approval_moves_the_resolve_deadline_to_the_requested_time(city, api, ticket):
    until = ticket.resolve_due_at + dt.timedelta(days=3, hours=5)
    _request(api, city, ticket, until)

    response = act(api(city.dispatcher), ticket, "approve-extension", {"comment": "同意"})

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["state"] == "in_progress"
    assert _resolve_due(data) == until
    assert data["events"][-1]["kind"] == "extension_approved"
    assert ExtensionRequest.objects.get(ticket=ticket).status == ExtensionRequest.Status.APPROVED


def test_refusal_keeps_the_resolve_deadline(city, api, ticket):
    _request(api, city, ticket, ticket.resolve_due_at + dt.timedelta(days=3))

    response = act(api(city.dispatcher), ticket, "refuse-extension")

    assert response.status_code == 200, response.content
    data = response.json()
    assert _resolve_due(data) == ticket.resolve_due_at
    assert data["events"][-1]["kind"] == "extension_refused"
    assert ExtensionRequest.objects.get(ticket=ticket).status == ExtensionRequest.Status.REFUSED


def test_request_earlier_than_the_current_deadline_is_400_and_writes_nothing(city, api, ticket):
    events = TicketEvent.objects.filter(ticket=ticket).count()

    response = _request(api, city, ticket, ticket.resolve_due_at - dt.timedelta(hours=1))

    assert "until" in assert_error(response, 400, "invalid")["fields"]
    assert TicketEvent.objects.filter(ticket=ticket).count() == events
    assert not ExtensionRequest.objects.filter(ticket=ticket).exists()


def test_request_equal_to_the_current_deadline_is_400(city, api, ticket):
    response = _request(api, city, ticket, ticket.resolve_due_at)

    assert "until" in assert_error(response, 400)["fields"]


def test_request_beyond_the_categorys_extension_limit_is_400(city, api, ticket):
    # The policy: 10 working days past the current deadline at most.
    latest = calendar.due_at(ticket.resolve_due_at, 10, "working_days")

    response = _request(api, city, ticket, latest + dt.timedelta(seconds=1))

    body = assert_error(response, 400)
    assert "until" in body["fields"] and "at the latest" in body["detail"]
    assert not ExtensionRequest.objects.filter(ticket=ticket).exists()
    assert _request(api, city, ticket, latest).status_code == 200


def test_the_policy_limits_how_many_extensions_a_ticket_gets(city, api, ticket):
    city.category.max_extensions = 1
    city.category.save()
    _request(api, city, ticket, ticket.resolve_due_at + dt.timedelta(days=1))
    act(api(city.dispatcher), ticket, "approve-extension")
    due = Ticket.objects.get(id=ticket.id).resolve_due_at

    response = _request(api, city, ticket, due + dt.timedelta(days=1))

    assert "1 extension" in assert_error(response, 409, "conflict")["detail"]
    assert ExtensionRequest.objects.filter(ticket=ticket).count() == 1


def test_request_after_the_deadline_passed_is_409(city, api, ticket):
    later = ticket.resolve_due_at + dt.timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        response = _request(api, city, ticket, later + dt.timedelta(days=2))

    assert "before it" in assert_error(response, 409, "conflict")["detail"]


def test_approval_clears_the_warning_and_tells_the_citizen_the_new_date(city, api, ticket):
    until = ticket.resolve_due_at + dt.timedelta(days=5)
    with time_machine.travel(ticket.resolve_warn_at + dt.timedelta(minutes=1), tick=False):
        _request(api, city, ticket, until)
        assert Ticket.objects.get(id=ticket.id).sla == "warning"
        data = act(api(city.dispatcher), ticket, "approve-extension").json()

    assert data["sla"] == "ok"
    event = TicketEvent.objects.filter(ticket=ticket).latest("id")
    assert event.payload["previous_sla"] == "warning" and event.is_public
    sms = Notification.objects.get(event=event)
    assert (sms.kind, sms.address) == (Notification.Kind.EXTENSION, "13800138000")
    assert f"{until.astimezone(calendar.local_zone()):%Y-%m-%d %H:%M}" in sms.body


def test_request_with_a_blank_reason_is_400(city, api, ticket):
    until = ticket.resolve_due_at + dt.timedelta(days=1)

    response = _request(api, city, ticket, until, reason="  ")

    assert "reason" in assert_error(response, 400)["fields"]
    assert not ExtensionRequest.objects.filter(ticket=ticket).exists()


def test_second_pending_request_is_409_and_writes_nothing(city, api, ticket):
    _request(api, city, ticket, ticket.resolve_due_at + dt.timedelta(days=2))
    events = TicketEvent.objects.filter(ticket=ticket).count()

    response = _request(api, city, ticket, ticket.resolve_due_at + dt.timedelta(days=4))

    assert_error(response, 409, "conflict")
    assert TicketEvent.objects.filter(ticket=ticket).count() == events
    assert ExtensionRequest.objects.filter(ticket=ticket).count() == 1


def test_a_new_request_is_allowed_once_the_first_is_decided(city, api, ticket):
    _request(api, city, ticket, ticket.resolve_due_at + dt.timedelta(days=2))
    act(api(city.dispatcher), ticket, "refuse-extension")

    response = _request(api, city, ticket, ticket.resolve_due_at + dt.timedelta(days=1))

    assert response.status_code == 200, response.content


def test_approval_without_a_pending_request_is_409(city, api, ticket):
    response = act(api(city.dispatcher), ticket, "approve-extension")

    assert_error(response, 409, "conflict")
    assert Ticket.objects.get(id=ticket.id).resolve_due_at == ticket.resolve_due_at


def test_a_decided_request_cannot_be_decided_again(city, api, ticket):
    _request(api, city, ticket, ticket.resolve_due_at + dt.timedelta(days=2))
    client = api(city.dispatcher)
    act(client, ticket, "refuse-extension")

    response = act(client, ticket, "approve-extension")

    assert_error(response, 409, "conflict")
    assert Ticket.objects.get(id=ticket.id).resolve_due_at == ticket.resolve_due_at


@pytest.mark.parametrize("transition", ["approve-extension", "refuse-extension"])
def test_the_unit_cannot_decide_its_own_request(city, api, ticket, transition):
    _request(api, city, ticket, ticket.resolve_due_at + dt.timedelta(days=2))

    response = act(api(city.handler), ticket, transition)

    assert_error(response, 403, "forbidden")
    assert ExtensionRequest.objects.get(ticket=ticket).status == ExtensionRequest.Status.PENDING


def test_the_centre_cannot_request_an_extension(city, api, ticket):
    until = ticket.resolve_due_at + dt.timedelta(days=1)

    response = act(
        api(city.dispatcher), ticket, "request-extension",
        {"until": until.isoformat(), "reason": "代申请"},
    )

    assert_error(response, 403, "forbidden")


def test_extension_approved_while_the_reply_is_checked_applies_when_the_ticket_is_sent_back(
    city, api, ticket
):
    until = ticket.resolve_due_at + dt.timedelta(days=3)
    _request(api, city, ticket, until)
    act(api(city.handler), ticket, "resolve", {"reply": "已处理"})
    dispatcher = api(city.dispatcher)
    approved = act(dispatcher, ticket, "approve-extension")
    assert approved.status_code == 200, approved.content

    data = act(dispatcher, ticket, "send-back", {"reason": "照片不清楚"}).json()

    assert data["state"] == "in_progress"
    assert _resolve_due(data) == until


def test_request_of_a_unit_that_returned_the_ticket_does_not_block_the_next_unit(city, api, ticket):
    _request(api, city, ticket, ticket.resolve_due_at + dt.timedelta(days=3))
    # Returned through the service: what the API answers to a return is test_return.py's concern.
    services.ticket_return(ticket_id=ticket.id, actor=city.handler, reason="wrong_territory")
    act(api(city.dispatcher), ticket, "dispatch", {"unit": "power-supply"})
    power = api(city.other_handler)
    act(power, ticket, "claim")
    due = Ticket.objects.get(id=ticket.id).resolve_due_at

    response = act(
        power, ticket, "request-extension",
        {"until": (due + dt.timedelta(days=1)).isoformat(), "reason": "需要停电检修"},
    )

    assert response.status_code == 200, response.content


def test_error_details_follow_the_clients_language_and_default_to_chinese(city, api, ticket):
    late = ticket.resolve_due_at + dt.timedelta(days=400)

    english = _request(api, city, ticket, late)
    chinese = _request(lambda user: api(user, language=""), city, ticket, late)

    assert "at the latest" in english.json()["detail"]
    assert "最多可延期至" in chinese.json()["detail"]
