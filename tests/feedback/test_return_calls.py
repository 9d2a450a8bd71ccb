"""The operators' return calls (/desk/callbacks/): the waiting tickets, and the rating recorded on a call."""

import pytest

from feedback.models import RatingLink
from tests.factories import make_ticket
from tests.feedback.helpers import awaiting, rating_path
from tickets import services
from tickets.models import Channel, State, Ticket

pytestmark = pytest.mark.django_db


def test_operators_see_the_tickets_waiting_for_a_rating_that_they_can_call(browse, city):
    waiting = awaiting(city, reporter_phone="13700137000")
    unreachable, _code = services.ticket_create(category=city.category, description="路面塌陷", channel=Channel.WEB)
    services.ticket_accept(ticket_id=unreachable.id, actor=city.dispatcher)
    handled = make_ticket(city, State.IN_PROGRESS)

    page = browse(city.operator).get("/desk/callbacks/")

    html = page.content.decode()
    assert page.status_code == 200
    assert [t.number for t in page.context["rows"]] == [waiting.number]
    assert "13700137000" in html and f'href="/desk/callbacks/{waiting.number}/"' in html
    assert handled.number not in html
    for user in (city.handler, city.supervisor, city.outsider):
        assert browse(user).get("/desk/callbacks/").status_code == 403
    assert 'href="/desk/callbacks/"' in browse(city.operator).get("/admin/").content.decode()


def test_an_operator_records_a_satisfied_rating_from_a_call(browse, city):
    ticket = awaiting(city)
    client = browse(city.operator)
    page = client.get(f"/desk/callbacks/{ticket.number}/").content.decode()
    assert "已处理" in page and ticket.reporter_phone in page and 'name="rating"' in page

    response = client.post(f"/desk/callbacks/{ticket.number}/", {"rating": "satisfied", "comment": "满意，谢谢"})

    assert response.status_code == 302 and response["Location"] == "/desk/callbacks/"
    ticket.refresh_from_db()
    assert (ticket.state, ticket.rating) == (State.CLOSED, "satisfied")
    event = ticket.events.get(kind="rate")
    assert (event.actor, event.note, event.payload["via"]) == (city.operator, "满意，谢谢", "phone")
    assert "is recorded" in client.get(response["Location"]).content.decode()


def test_an_unsatisfied_caller_reopens_the_ticket_and_the_citizens_link_dies(browse, citizen, city):
    ticket = awaiting(city)
    link = rating_path(ticket)

    browse(city.operator).post(f"/desk/callbacks/{ticket.number}/", {"rating": "unsatisfied", "comment": "没修好"})

    ticket.refresh_from_db()
    assert (ticket.state, ticket.unit, ticket.reopen_count) == (State.DISPATCHED, city.bureau, 1)
    assert ticket.events.get(kind="reopen").payload["via"] == "phone"
    assert citizen.post(link, {"rating": "satisfied"}).status_code == 409
    assert RatingLink.objects.get(ticket=ticket).used_at is None


def test_the_api_records_a_return_call_as_by_phone(api, city):
    ticket = awaiting(city)
    response = api(city.operator).post(f"/api/v1/tickets/{ticket.number}/rate/",
                                       {"rating": "basically_satisfied", "comment": "还行"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "closed"
    assert Ticket.objects.get(id=ticket.id).events.get(kind="rate").payload["via"] == "phone"


@pytest.mark.parametrize("data, field", [
    ({"rating": "great"}, "rating"),
    ({"rating": "satisfied", "comment": "太" * 2001}, "comment"),
])
def test_bad_input_on_a_call_changes_nothing(browse, city, data, field):
    ticket = awaiting(city)

    response = browse(city.operator).post(f"/desk/callbacks/{ticket.number}/", data)

    assert response.status_code == 400 and response.context["form"].errors[field]
    assert Ticket.objects.get(id=ticket.id).state == State.AWAITING_FEEDBACK


def test_a_ticket_rated_meanwhile_is_not_rated_again_on_the_call(browse, city):
    ticket = awaiting(city)
    client = browse(city.operator)
    client.get(f"/desk/callbacks/{ticket.number}/")
    services.ticket_rate(ticket_id=ticket.id, actor=None, rating="satisfied", via="sms")

    response = client.post(f"/desk/callbacks/{ticket.number}/", {"rating": "unsatisfied"})

    assert response.status_code == 409
    assert "cannot be rated" in response.content.decode()
    ticket.refresh_from_db()
    assert (ticket.state, ticket.rating, ticket.reopen_count) == (State.CLOSED, "satisfied", 0)


def test_the_ticket_page_offers_operators_the_return_call(browse, city):
    ticket = awaiting(city)
    url = f"/admin/tickets/ticket/{ticket.id}/change/"
    assert f'href="/desk/callbacks/{ticket.number}/"' in browse(city.operator).get(url).content.decode()
    assert "/desk/callbacks/" not in browse(city.handler).get(url).content.decode()
    assert browse(city.operator).get("/desk/callbacks/9999999999999/").status_code == 404
