"""A ticket reopened twice is announced live to the dispatch desk and its unit, never to the citizen."""

import pytest

from tests.factories import make_city
from tests.feedback.helpers import awaiting, handle_again, reopen
from tests.tickets.sockets.conftest import sockets  # noqa: F401 -- the live-socket fixture
from tickets import services

pytestmark = pytest.mark.slow


@pytest.fixture
def city(transactional_db):
    return make_city()


def test_the_flag_reaches_the_dispatch_desk_and_the_unit_but_not_the_tracking_page(city, sockets):  # noqa: F811
    ticket = handle_again(city, reopen(city, awaiting(city)))
    code = "13572468"
    ticket.set_access_code(code)
    ticket.save(update_fields=["access_code_hash"])
    desk = sockets("/ws/dispatch/", user=city.dispatcher)
    unit = sockets("/ws/units/water-group/", user=city.handler)
    citizen = sockets(f"/ws/track/{ticket.number}/", headers={"X-Minhu-Access-Code": code})
    for each in (desk, unit, citizen):
        each.ready()

    services.ticket_rate(ticket_id=ticket.id, actor=None, rating="unsatisfied", comment="还是不行", via="link")

    for each in (desk, unit):
        assert [each.next()["type"], each.next()["type"]] == ["ticket.reopen", "ticket.reopen_flagged"]
    assert citizen.next()["type"] == "ticket.reopen"
    assert citizen.quiet()
