"""The demo's start: every demo ticket can be tracked with the demo access code it prints."""

import io
import re

import pytest
from django.core.management import call_command

from departments.demo import DEMO_ACCESS_CODE
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def test_seed_demo_prints_a_ticket_that_the_tracking_page_opens_with_the_demo_code(client):
    out = io.StringIO()
    call_command("seed_demo", "--with-passwords", "--with-tickets", stdout=out)

    printed = re.search(r"/track/(\w+)/ with the access code (\d+)", out.getvalue())
    assert printed, out.getvalue()
    number, code = printed.groups()
    assert code == DEMO_ACCESS_CODE
    page = client.post(f"/track/{number}/", {"code": code}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert number in page.content.decode() and "Being handled" in page.content.decode()
    assert all(t.check_access_code(DEMO_ACCESS_CODE) for t in Ticket.objects.all()[:50])


def test_without_demo_passwords_the_demo_tickets_keep_their_own_codes():
    call_command("seed_demo", "--with-tickets", stdout=io.StringIO())

    assert not any(t.check_access_code(DEMO_ACCESS_CODE) for t in Ticket.objects.all()[:50])
