"""Live screens in a real browser: the dispatcher dispatches, the unit's queue and the
citizen's tracking page change without a reload (ASGI server, Redis channel layer)."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from django.conf import settings
from django.test import Client

from tests.browser.conftest import watched_page
from tests.factories import make_city
from tickets import services

pytestmark = pytest.mark.slow


@pytest.fixture
def city(transactional_db):
    return make_city()


@pytest.fixture
def open_page(browser, asgi_server, problems):
    """Return a function opening a desktop-sized page on the ASGI server, logged in as a user or not."""
    pages = []

    def open_as(user=None):
        page = watched_page(browser, asgi_server, problems, viewport={"width": 1280, "height": 900})
        pages.append(page)
        if user is not None:
            client = Client()
            client.force_login(user)
            page.context.add_cookies([{
                "name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "domain": urlsplit(asgi_server).hostname, "path": "/",
            }])
        return page

    yield open_as
    for page in pages:
        page.context.close()


def test_a_dispatch_on_the_desk_shows_on_the_unit_queue_and_the_tracking_page(city, asgi_server, open_page, problems):
    ticket, code = services.ticket_create(category=city.category, description="小区停水两天了", channel="web",
                                          address="武昌区中南路1号")
    services.ticket_accept(ticket_id=ticket.id, actor=city.dispatcher)

    desk = open_page(city.dispatcher)
    desk.goto(f"{asgi_server}/desk/")
    queue = open_page(city.handler)
    queue.goto(f"{asgi_server}/desk/queue/water-group/")
    citizen = open_page()
    citizen.goto(f"{asgi_server}/track/{ticket.number}/")
    citizen.fill("input[name=code]", code)
    citizen.click("button[type=submit].primary")
    citizen.wait_for_selector("#ticket-state[data-state=accepted]")
    for page in (desk, queue, citizen):
        page.wait_for_selector("[data-live=live]", timeout=10000)
    assert queue.locator(f"tr[data-number='{ticket.number}']").count() == 0

    desk.click(f"a.desk-open[data-number='{ticket.number}']")
    desk.click("#desk-panel button[data-action=dispatch][data-unit=water-group]")

    queue.wait_for_selector(f"tr[data-number='{ticket.number}']", timeout=10000)
    notice = queue.locator("#queue-notice")
    assert notice.is_visible() and ticket.number in notice.inner_text()
    citizen.wait_for_selector("#ticket-state[data-state=dispatched]", timeout=10000)
    assert "水务集团" in citizen.inner_text("main")
    desk.wait_for_selector(f".desk-queue tr[data-number='{ticket.number}']", state="detached", timeout=10000)
    assert desk.locator("#desk-panel .desk-ticket[data-state=dispatched]").count() == 1
    assert problems == []


def test_a_refused_action_shows_the_reason_on_the_desk(city, asgi_server, open_page, problems):
    ticket, _code = services.ticket_create(category=city.category, description="噪音扰民", channel="web")
    desk = open_page(city.dispatcher)
    desk.goto(f"{asgi_server}/desk/?ticket={ticket.number}")
    desk.wait_for_selector("[data-live=live]", timeout=10000)
    # Someone else accepted and rejected it meanwhile: the panel follows, then a merge is refused.
    services.ticket_reject(ticket_id=ticket.id, actor=city.dispatcher, reason="重复")
    desk.wait_for_selector("#desk-panel .desk-ticket[data-state=rejected]", timeout=10000)
    other, _ = services.ticket_create(category=city.category, description="另一件事", channel="web")
    desk.goto(f"{asgi_server}/desk/?ticket={other.number}")
    desk.fill("#desk-panel input[name=into]", "1234567890123")
    desk.click("#desk-panel form[data-action=merge] button")
    error = desk.locator("#desk-panel .desk-error")
    expect(error).to_contain_text("1234567890123", timeout=5000)
    assert other.events.count() == 1  # still only reported
    # The browser logs the refused request itself; nothing else went wrong.
    assert [p for p in problems if "status of 400" not in p] == []
