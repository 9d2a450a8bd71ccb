"""The citizen's pages in a phone-sized browser: report, receipt, tracking; accessible, self-contained."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.factories import make_category
from tests.tickets.citizen.helpers import photo
from tickets.models import Attachment, Channel, Ticket


def _accessible(page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def _fits_the_screen(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "scrolls sideways"


@pytest.mark.django_db(transaction=True)
def test_a_citizen_reports_on_a_phone_and_follows_the_report_with_the_code(page, asgi_server, problems):
    make_category()
    upload = photo("pipe.png", size=(64, 48))

    page.goto(f"{asgi_server}/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    _accessible(page)
    _fits_the_screen(page)
    page.select_option("#id_category", "water-outage")
    page.fill("#id_description", "小区停水两天了 <b>急</b>")
    page.fill("#id_address", "武昌区中南路1号")
    page.set_input_files("#id_photos", files=[{"name": upload.name, "mimeType": "image/png",
                                               "buffer": upload.read()}])
    page.click("button[type=submit].primary")

    page.wait_for_url("**/reported/*/")
    number = page.locator("#ticket-number").get_attribute("data-number")
    code = page.locator("#access-code").get_attribute("data-code")
    _accessible(page)
    _fits_the_screen(page)
    ticket = Ticket.objects.get(number=number)
    assert ticket.channel == Channel.WEB and ticket.check_access_code(code)
    assert Attachment.objects.filter(ticket=ticket).count() == 1

    page.click(f"a[href='/track/{number}/']")
    page.fill("#id_code", code)
    page.click("button[type=submit].primary")

    page.wait_for_selector("#ticket-state")
    assert page.locator("#ticket-state").get_attribute("data-state") == "reported"
    assert "<b>急</b>" in page.inner_text("main")
    _accessible(page)
    _fits_the_screen(page)
    assert problems == []


@pytest.mark.django_db(transaction=True)
def test_the_code_form_and_a_refused_report_are_accessible_and_english_is_one_click_away(page, asgi_server,
                                                                                        problems):
    make_category()

    page.goto(f"{asgi_server}/")
    page.click("button[name=language][value=en]")
    page.wait_for_selector("html[lang=en]")
    page.select_option("#id_category", "water-outage")
    page.fill("#id_description", "路灯不亮")
    page.fill("#id_phone", "12345")
    page.click("button[type=submit].primary")

    assert page.locator("#error-summary").is_visible()
    assert page.get_attribute("#id_phone", "aria-invalid") == "true"
    assert page.input_value("#id_description") == "路灯不亮"
    _accessible(page)
    assert Ticket.objects.count() == 0

    page.goto(f"{asgi_server}/track/2611240000001/")
    _accessible(page)
    _fits_the_screen(page)
    # The refused form answers 400, which Chromium logs as a failed load; nothing else may.
    assert [p for p in problems if "status of 400" not in p] == []
