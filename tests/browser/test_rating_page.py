"""The rating page in a phone-sized browser: the link from the SMS, two taps, a thank-you; no console errors."""

import pytest

from tests.browser.test_citizen_pages import _accessible, _fits_the_screen
from tests.factories import make_city
from tests.feedback.helpers import awaiting, rating_path
from tickets.models import State, Ticket


@pytest.mark.django_db(transaction=True)
def test_a_citizen_rates_from_the_link_in_two_taps_on_a_phone(page, asgi_server, problems):
    city = make_city()
    ticket = awaiting(city)

    page.goto(asgi_server + rating_path(ticket))
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "已处理" in page.inner_text(".reply")
    _accessible(page)
    _fits_the_screen(page)

    page.click("label.rating-basically_satisfied")
    page.click("button[type=submit].primary")

    page.wait_for_url(f"**/rate/{ticket.number}/thanks/")
    _accessible(page)
    _fits_the_screen(page)
    ticket.refresh_from_db()
    assert (ticket.state, ticket.rating) == (State.CLOSED, "basically_satisfied")
    assert Ticket.objects.get(id=ticket.id).events.get(kind="rate").payload["via"] == "link"

    page.go_back()  # the spent link, as a second visit finds it
    page.reload()
    assert page.locator("h1").count() == 1 and ticket.number not in page.inner_text("main")
    # The spent link answers 410, which Chromium logs as a failed load; nothing else may.
    assert [p for p in problems if "status of 410" not in p] == []
