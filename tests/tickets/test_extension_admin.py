"""The centre decides extension requests (延期申请) from the admin, through the same service."""

import datetime as dt

import pytest

from tests.factories import make_ticket
from tickets import services
from tickets.models import ExtensionRequest, State, Ticket

URL = "/admin/tickets/extensionrequest/"


@pytest.fixture
def pending(city):
    ticket = make_ticket(city, State.IN_PROGRESS)
    services.ticket_request_extension(
        ticket_id=ticket.id, actor=city.handler, until=ticket.resolve_due_at + dt.timedelta(days=2),
        reason="需要协调施工单位",
    )
    return ExtensionRequest.objects.get(ticket=ticket)


def _act(client, action: str, request: ExtensionRequest):
    return client.post(URL, {"action": action, "_selected_action": [request.id]}, follow=True,
                       HTTP_ACCEPT_LANGUAGE="en")


def test_a_dispatcher_approves_from_the_admin_and_the_deadline_moves(client, city, pending):
    client.force_login(city.dispatcher)

    page = _act(client, "approve", pending).content.decode()

    assert "1 request(s) decided." in page
    assert Ticket.objects.get(id=pending.ticket_id).resolve_due_at == pending.until
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == (ExtensionRequest.Status.APPROVED, city.dispatcher)


def test_a_dispatcher_refuses_from_the_admin_and_the_deadline_stays(client, city, pending):
    due = Ticket.objects.get(id=pending.ticket_id).resolve_due_at
    client.force_login(city.dispatcher)

    _act(client, "refuse", pending)

    assert Ticket.objects.get(id=pending.ticket_id).resolve_due_at == due
    assert ExtensionRequest.objects.get(id=pending.id).status == ExtensionRequest.Status.REFUSED


def test_a_handler_sees_its_request_but_cannot_decide_it(client, city, pending):
    client.force_login(city.handler)
    page = client.get(URL).content.decode()
    assert pending.ticket.number in page and 'value="approve"' not in page

    _act(client, "approve", pending)

    assert ExtensionRequest.objects.get(id=pending.id).status == ExtensionRequest.Status.PENDING


def test_another_units_handler_does_not_see_the_request(client, city, pending):
    client.force_login(city.other_handler)

    assert pending.ticket.number not in client.get(URL).content.decode()
