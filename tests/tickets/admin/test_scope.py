"""What each role sees in the ticket admin: its unit's tickets only, everywhere a ticket can show."""

import pytest
from django.test import Client

from tests.factories import make_ticket
from tests.tickets.admin.helpers import CHANGELIST, change_url, history, post_action
from tickets.admin_views import ACTIONS
from tickets.models import State, Ticket


@pytest.fixture
def two(city):
    """A ticket in the handler's unit and one in a street unit it has nothing to do with."""
    return make_ticket(city, State.IN_PROGRESS), make_ticket(city, State.IN_PROGRESS, unit=city.street)


def _autocomplete(client, term: str) -> list[str]:
    response = client.get("/admin/autocomplete/", {
        "app_label": "tickets", "model_name": "ticketevent", "field_name": "ticket", "term": term,
    })
    assert response.status_code == 200
    return [row["text"] for row in response.json()["results"]]


def test_a_handler_lists_only_its_units_tickets_whatever_the_filter(browse, city, two):
    own, other = two
    client = browse(city.handler)
    for query in ("", "?queue=all", "?state__exact=in_progress", "?sla=ok", f"?unit={city.street.id}",
                  f"?q={other.number}"):
        page = client.get(CHANGELIST + query)
        assert page.status_code == 200, query
        assert change_url(other) not in page.content.decode(), query
    assert change_url(own) in client.get(CHANGELIST).content.decode()


def test_a_handler_cannot_open_another_units_ticket_by_its_url(browse, city, two):
    _own, other = two
    client = browse(city.handler)
    for page in ("change", "history"):
        response = client.get(f"{CHANGELIST}{other.id}/{page}/")
        assert response.status_code in (302, 404), page
        assert other.number not in response.content.decode()


@pytest.mark.parametrize("action", list(ACTIONS))
def test_a_handler_cannot_act_on_another_units_ticket(browse, city, two, action):
    _own, other = two
    before = (Ticket.objects.get(id=other.id).state, history(other))

    response = post_action(browse(city.handler), other, action, {"reason": "x", "reply": "x"})

    assert response.status_code == 404
    assert (Ticket.objects.get(id=other.id).state, history(other)) == before


def test_a_handler_cannot_reveal_or_fetch_photos_of_another_units_ticket(browse, city, two):
    _own, other = two
    client = browse(city.handler)
    assert client.post(f"{CHANGELIST}{other.id}/reveal/").status_code == 404
    assert client.get(f"{CHANGELIST}{other.id}/attachments/1/").status_code == 404


def test_the_autocomplete_finds_only_visible_tickets(browse, city, two):
    own, other = two
    handler = browse(city.handler)
    assert _autocomplete(handler, own.number) == [own.number]
    assert _autocomplete(handler, other.number) == []
    assert other.number not in _autocomplete(handler, "")
    assert _autocomplete(browse(city.dispatcher), other.number) == [other.number]


def test_a_handlers_unit_filter_offers_no_other_unit(browse, city, two):
    page = browse(city.handler).get(CHANGELIST).content.decode()
    assert city.street.name not in page and city.other_bureau.name not in page


def test_the_centres_unit_filter_offers_every_handling_unit_but_the_centre(browse, city, two):
    page = browse(city.dispatcher).get(CHANGELIST).content.decode()
    for unit in (city.bureau, city.other_bureau, city.street, city.district):
        assert f"?unit={unit.id}" in page
    assert f"?unit={city.centre.id}" not in page


def test_a_supervisor_reads_its_subtree_only(browse, city, two):
    own, other = two  # "other" is in the supervisor's district
    client = browse(city.supervisor)
    listing = client.get(CHANGELIST).content.decode()
    assert other.number in listing and own.number not in listing
    assert client.get(change_url(other)).status_code == 200
    assert client.get(change_url(own)).status_code in (302, 404)
    assert _autocomplete(client, own.number) == []


def test_the_history_list_of_a_handler_holds_only_its_units_tickets(browse, city, two):
    own, other = two
    page = browse(city.handler).get("/admin/tickets/ticketevent/").content.decode()
    assert own.number in page and other.number not in page


def test_only_the_centre_searches_by_the_reporters_phone(browse, city):
    ticket = make_ticket(city, State.DISPATCHED, reporter_phone="13912345678")
    assert ticket.number in browse(city.dispatcher).get(CHANGELIST, {"q": "139 1234 5678"}).content.decode()
    # The handler sees the number masked; a search must not confirm what the mask hides.
    assert change_url(ticket) not in browse(city.handler).get(CHANGELIST, {"q": "13912345678"}).content.decode()
    assert change_url(ticket) in browse(city.handler).get(CHANGELIST, {"q": ticket.number}).content.decode()


def test_a_handler_lands_on_its_queue_and_the_centre_on_the_index(city):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/admin/login/?next=/admin/", {
        "username": "handler", "password": "pw-for-tests-1", "next": "/admin/",
    }, follow=True)
    assert response.redirect_chain[-1][0] == CHANGELIST

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.login(username="dispatcher", password="pw-for-tests-1")
    assert client.get("/admin/").status_code == 200


def test_the_queue_holds_running_deadlines_and_the_rest_is_one_click_away(browse, city):
    running = make_ticket(city, State.DISPATCHED)
    resolved = make_ticket(city, State.RESOLVED)  # no clock runs while the centre verifies
    closed = make_ticket(city, State.CLOSED)
    client = browse(city.handler)

    def listed(**query) -> set[Ticket]:
        page = client.get(CHANGELIST, query).content.decode()
        return {t for t in (running, resolved, closed) if change_url(t) in page}

    assert listed() == {running}
    assert listed(queue="open") == {running, resolved}
    assert listed(queue="all") == {running, resolved, closed}
    assert listed(state__exact="closed") == {closed}
    assert listed(state__exact="resolved", queue="open") == {resolved}


def test_the_reveal_log_is_the_centres_to_read(browse, city):
    assert browse(city.handler).get("/admin/tickets/personaldataaccess/").status_code == 403
    assert browse(city.supervisor).get("/admin/tickets/personaldataaccess/").status_code == 403
    assert browse(city.dispatcher).get("/admin/tickets/personaldataaccess/").status_code == 200
