"""The operator's call entry (/desk/call/): a phone ticket entered and read back."""

import re

import pytest

from tests.factories import make_ticket
from tickets.models import Channel, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

CALL = "/desk/call/"


def _post(client, **fields):
    data = {"phone": "13900139000", "category": "water-outage", "description": "楼上漏水到我家",
            "address": "武昌区中南路1号", "name": "张三", **fields}
    return client.post(CALL, data)


def test_an_operator_enters_a_call_and_reads_back_the_number_and_code(client, city):
    client.force_login(city.operator)

    response = _post(client)

    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert response["Location"] == f"/desk/call/{ticket.number}/"
    assert (ticket.channel, ticket.reporter_phone, ticket.reporter_name) == (Channel.PHONE, "13900139000", "张三")
    event = TicketEvent.objects.get(ticket=ticket)
    assert (event.kind, event.actor) == ("report", city.operator)
    page = client.get(response["Location"]).content.decode()
    code = re.search(r'data-code="(\d+)"', page).group(1)
    assert ticket.check_access_code(code)
    assert re.search(r'data-number="%s"' % ticket.number, page)


def test_the_access_code_is_shown_once(client, city):
    client.force_login(city.operator)
    done = _post(client)["Location"]
    client.get(done)

    again = client.get(done).content.decode()

    assert "data-code" not in again


def test_the_read_back_groups_digits_for_speaking(client, city):
    from tickets.desk.views import _spoken

    assert _spoken("2611240000123") == "261 124 000 0123"
    assert _spoken("482913") == "482 913"
    assert _spoken("1234") == "1234"


def test_a_dispatcher_may_enter_a_call_too(client, city):
    client.force_login(city.dispatcher)

    assert _post(client).status_code == 302
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize("who", ["handler", "supervisor", "unit_admin", "outsider"])
def test_staff_outside_the_centre_cannot_enter_calls(client, city, who):
    client.force_login(getattr(city, who))

    assert client.get(CALL).status_code == 403
    assert _post(client).status_code == 403
    assert client.get(f"{CALL}history/?phone=13800138000").status_code == 403
    assert Ticket.objects.count() == 0


def test_a_visitor_is_sent_to_log_in(client, city):
    response = client.get(CALL)

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("fields, field", [
    ({"phone": "12345"}, "phone"),
    ({"phone": ""}, "phone"),
    ({"description": "   "}, "description"),
    ({"category": "no-such-category"}, "category"),
])
def test_bad_input_is_shown_on_the_form_and_nothing_is_written(client, city, fields, field):
    client.force_login(city.operator)

    response = _post(client, **fields)

    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert errors and all(message in response.content.decode() for message in errors)
    assert Ticket.objects.count() == 0 and TicketEvent.objects.count() == 0


def test_the_callers_earlier_tickets_appear_for_the_number_typed(client, city):
    mine = make_ticket(city, reporter_phone="13900139000", description="小区停水三天")
    make_ticket(city, reporter_phone="13700137000", description="别人的工单")
    client.force_login(city.operator)

    fragment = client.get(f"{CALL}history/?phone=139-0013-9000").content.decode()

    assert mine.number in fragment and "小区停水三天" in fragment
    assert "别人的工单" not in fragment


def test_a_number_with_no_tickets_says_so_and_a_partial_number_looks_nothing_up(client, city):
    ticket = make_ticket(city, reporter_phone="13900139000")
    client.force_login(city.operator)

    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    assert "No earlier tickets" in client.get(f"{CALL}history/?phone=13600136000", **english).content.decode()
    partial = client.get(f"{CALL}history/?phone=1390013", **english).content.decode()
    assert ticket.number not in partial and "No earlier tickets" in partial


def test_the_look_up_button_works_without_script(client, city):
    mine = make_ticket(city, reporter_phone="13900139000")
    client.force_login(city.operator)

    response = client.post(CALL, {"phone": "13900139000", "lookup": "1"})

    assert response.status_code == 200 and mine.number in response.content.decode()
    assert Ticket.objects.count() == 1


def test_citizen_text_in_the_history_is_escaped(client, city):
    make_ticket(city, reporter_phone="13900139000", description="<script>alert(1)</script>")
    client.force_login(city.operator)

    fragment = client.get(f"{CALL}history/?phone=13900139000").content.decode()

    assert "<script>alert(1)" not in fragment and "&lt;script&gt;" in fragment


def test_the_entry_form_needs_a_csrf_token(city):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(city.operator)

    assert _post(client).status_code == 403
    assert Ticket.objects.count() == 0


def test_every_admin_page_links_the_centre_to_the_call_entry_and_no_one_else(client, city):
    client.force_login(city.operator)
    assert f'href="{CALL}"' in client.get("/admin/").content.decode()
    assert f'href="{CALL}"' in client.get("/admin/tickets/ticket/").content.decode()

    client.force_login(city.handler)
    assert f'href="{CALL}"' not in client.get("/admin/tickets/ticket/").content.decode()
