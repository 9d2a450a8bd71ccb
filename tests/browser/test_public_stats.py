"""The public statistics page in a phone-sized browser: charts drawn from our own files, no console errors."""

import pytest

from feedback.stats.rollup import stats_catch_up
from tests.browser.test_citizen_pages import _accessible, _fits_the_screen
from tests.factories import make_city, make_ticket
from tickets.models import State


@pytest.mark.django_db(transaction=True)
def test_the_figures_page_draws_its_charts_on_a_phone_with_tables_beside_them(page, asgi_server, problems):
    city = make_city()
    make_ticket(city, State.CLOSED)
    make_ticket(city, State.IN_PROGRESS, unit=city.street)
    stats_catch_up()

    page.goto(f"{asgi_server}/stats/")

    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.wait_for_function("window.Chart && Object.keys(window.Chart.instances).length === 3")
    assert page.locator("canvas[role=img]").count() == 3
    assert page.locator("#table-category tbody tr").count() == 1
    _accessible(page)
    _fits_the_screen(page)
    page.click("#chart-rates-title ~ details summary")
    assert page.locator("#table-rates").is_visible()
    assert problems == []
