"""Dispatching sorts a ticket into another category on the way, and its deadlines follow."""

from departments.models import Category, DeadlineUnit
from tests.factories import make_category, make_ticket
from tests.tickets.api.helpers import assert_error
from tickets.models import Ticket



def _dispatch(api, user, ticket, **body):
    return api(user).post(f"/api/v1/tickets/{ticket.number}/dispatch/", {"unit": "water-group", **body},
                          format="json")


def test_a_dispatch_with_a_category_sorts_the_ticket_and_restarts_its_clocks_by_that_policy(api, city):
    ticket = make_ticket(city)
    burst = make_category(code="pipe-burst", default_unit=city.bureau, resolve_amount=12,
                          resolve_unit=DeadlineUnit.HOURS)

    response = _dispatch(api, city.dispatcher, ticket, category="pipe-burst")

    assert response.status_code == 200, response.content
    assert response.json()["category"] == "pipe-burst"
    ticket.refresh_from_db()
    assert ticket.category == burst
    assert (ticket.resolve_due_at - ticket.dispatched_at).total_seconds() == 12 * 3600
    event = ticket.events.get(kind="dispatch")
    assert event.payload == {"final": False, "category": "pipe-burst", "previous_category": "water-outage",
                             "suggested": "water-group", "suggestion_kept": True}


def test_a_dispatch_in_the_same_category_records_no_change(api, city):
    ticket = make_ticket(city)
    _dispatch(api, city.dispatcher, ticket, category="water-outage")
    assert "category" not in ticket.events.get(kind="dispatch").payload


def test_an_unknown_or_group_category_is_refused_and_nothing_changes(api, city):
    ticket = make_ticket(city)

    assert_error(_dispatch(api, city.dispatcher, ticket, category="no-such"), 400, "invalid")
    body = assert_error(_dispatch(api, city.dispatcher, ticket, category="water"), 400, "invalid")
    assert "category" in body["fields"]
    Category.objects.filter(code="water-outage").update(is_active=False)
    assert_error(_dispatch(api, city.dispatcher, ticket, category="water-outage"), 400, "invalid")
    ticket.refresh_from_db()
    assert (ticket.state, ticket.category.code) == ("reported", "water-outage")


def test_the_admin_dispatch_form_sorts_the_ticket(browse, city):
    ticket = make_ticket(city)
    burst = make_category(code="pipe-burst", default_unit=city.bureau)

    response = browse(city.dispatcher).post(
        f"/admin/tickets/ticket/{ticket.pk}/actions/dispatch/",
        {"dispatch-unit": city.bureau.pk, "dispatch-category": burst.pk},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Ticket.objects.get(pk=ticket.pk).category == burst


def test_the_dispatch_desk_offers_the_categories(browse, city):
    ticket = make_ticket(city)
    page = browse(city.dispatcher).get(f"/desk/tickets/{ticket.number}/").content.decode()
    assert 'name="category"' in page and 'value="water-outage" selected' in page
