"""The operator's call entry in a real browser: earlier tickets appear as the number is typed."""

from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import make_ticket
from tickets.models import Channel, Ticket


def _logged_in(page, asgi_server, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{
        "name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "domain": urlsplit(asgi_server).hostname, "path": "/",
    }])


@pytest.mark.django_db(transaction=True)
def test_an_operator_sees_the_callers_tickets_while_typing_and_enters_the_call(page, asgi_server, city, problems):
    earlier = make_ticket(city, reporter_phone="13900139000", description="楼道灯坏了")
    page.set_viewport_size({"width": 1280, "height": 900})
    _logged_in(page, asgi_server, city.operator)

    page.goto(f"{asgi_server}/desk/call/")
    assert page.locator(".desk-lookup").is_hidden()  # the script looks up by itself
    page.locator("#id_phone").press_sequentially("139 0013 9000", delay=20)
    history = page.locator("#caller-history")
    history.get_by_text(earlier.number).wait_for(timeout=5000)
    page.select_option("#id_category", "water-outage")
    page.fill("#id_description", "楼上漏水到我家")
    page.fill("#id_address", "武昌区中南路1号")
    page.click("input[type=submit].default")

    page.wait_for_url("**/desk/call/*/")
    ticket = Ticket.objects.exclude(id=earlier.id).get()
    assert (ticket.channel, ticket.reporter_phone) == (Channel.PHONE, "13900139000")
    assert page.locator(f'[data-number="{ticket.number}"]').count() == 1
    assert problems == []
