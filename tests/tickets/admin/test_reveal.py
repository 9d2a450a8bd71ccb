"""Unit staff see the reporter masked, and may reveal it on one page, each time logged."""

import pytest

from tests.factories import make_ticket
from tests.tickets.admin.helpers import CHANGELIST, change_url
from tickets.models import PersonalDataAccess, State, Ticket

PHONE, NAME = "13800138000", "张三丰"


@pytest.fixture
def ticket(city):
    ticket = make_ticket(city, State.IN_PROGRESS, reporter_phone=PHONE)
    Ticket.objects.filter(id=ticket.id).update(reporter_name=NAME)
    return ticket


def _reveal(client, ticket, reason=""):
    return client.post(f"{CHANGELIST}{ticket.id}/reveal/", {"reveal-reason": reason})


def test_a_handler_sees_the_reporter_masked_with_a_reveal_button(browse, city, ticket):
    page = browse(city.handler).get(change_url(ticket)).content.decode()
    assert "138****8000" in page and PHONE not in page and NAME not in page
    assert f'action="{CHANGELIST}{ticket.id}/reveal/"' in page


def test_a_reveal_logs_the_access_and_shows_the_reporter_on_that_page_only(browse, city, ticket):
    client = browse(city.handler)

    response = _reveal(client, ticket, "回电核实地址")

    assert response.status_code == 200
    page = response.content.decode()
    assert PHONE in page and NAME in page
    access = PersonalDataAccess.objects.get()
    assert (access.user, access.ticket_id, access.reason) == (city.handler, ticket.id, "回电核实地址")
    again = client.get(change_url(ticket)).content.decode()
    assert PHONE not in again and "138****8000" in again


@pytest.mark.parametrize(("who", "status"), [("supervisor", 404), ("other_handler", 404), ("dispatcher", 403)])
def test_only_staff_of_the_holding_unit_can_reveal(browse, city, ticket, who, status):
    if who == "supervisor":
        ticket = make_ticket(city, State.IN_PROGRESS, unit=city.street, reporter_phone=PHONE)
        status = 403  # the supervisor reads its subtree's ticket but may not reveal
    client = browse(getattr(city, who))

    response = _reveal(client, ticket)

    assert response.status_code == status
    assert not PersonalDataAccess.objects.exists()
    if status == 403:
        assert f"{CHANGELIST}{ticket.id}/reveal/" not in client.get(change_url(ticket)).content.decode()


def test_the_centre_reads_who_revealed_what(browse, city, ticket):
    _reveal(browse(city.handler), ticket, "回电")

    page = browse(city.dispatcher).get("/admin/tickets/personaldataaccess/").content.decode()

    assert ticket.number in page and "handler" in page and "回电" in page
