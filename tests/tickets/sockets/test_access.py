"""Who may open which socket: role, unit and subtree, checked on connect and after."""

import pytest
from django.test import Client

from departments.models import Membership, Role
from tests.factories import make_city, make_ticket
from tickets import services
from tickets.models import State

pytestmark = pytest.mark.slow

FORBIDDEN, UNAUTHENTICATED, NOT_FOUND = 4403, 4401, 4404


@pytest.fixture
def city(transactional_db):
    return make_city()


def test_dispatch_socket_is_for_the_centre(city, sockets):
    assert sockets("/ws/dispatch/", user=city.dispatcher).ready()["replayed"] == 0
    assert sockets("/ws/dispatch/", user=city.operator, via="session").ready()
    assert sockets("/ws/dispatch/", user=city.handler).closed_with() == FORBIDDEN
    assert sockets("/ws/dispatch/", user=city.supervisor).closed_with() == FORBIDDEN
    assert sockets("/ws/dispatch/", user=city.outsider).closed_with() == FORBIDDEN
    assert sockets("/ws/dispatch/").closed_with() == UNAUTHENTICATED


def test_bad_credentials_are_refused(city, sockets):
    assert sockets("/ws/dispatch/", headers={"Authorization": "Token nope"}).closed_with() == UNAUTHENTICATED
    assert sockets("/ws/dispatch/", headers={"Authorization": "Basic abc"}).closed_with() == UNAUTHENTICATED
    assert sockets("/ws/dispatch/", session="not-a-session").closed_with() == UNAUTHENTICATED
    city.dispatcher.is_active = False
    city.dispatcher.save()
    assert sockets("/ws/dispatch/", user=city.dispatcher).closed_with() == UNAUTHENTICATED


def test_a_session_counts_only_from_a_page_of_this_site(city, sockets):
    # Another site's page opening a socket with the user's cookie gets nothing.
    assert sockets("/ws/dispatch/", user=city.dispatcher, via="session",
                   origin="http://evil.example").closed_with() == UNAUTHENTICATED
    assert sockets("/ws/dispatch/", user=city.dispatcher, via="session", origin=None).closed_with() == UNAUTHENTICATED
    # A program's token needs no Origin.
    assert sockets("/ws/dispatch/", user=city.dispatcher, origin=None).ready()


def test_unit_socket_is_for_its_members_supervisors_and_the_centre(city, sockets):
    assert sockets("/ws/units/water-group/", user=city.handler).ready()
    assert sockets("/ws/units/water-group/", user=city.unit_admin, via="session").ready()
    assert sockets("/ws/units/water-group/", user=city.dispatcher).ready()
    assert sockets("/ws/units/power-supply/", user=city.handler).closed_with() == FORBIDDEN
    assert sockets("/ws/units/wuchang/", user=city.street_handler).closed_with() == FORBIDDEN
    # A supervisor of the district may watch it and any unit below it, nothing else.
    assert sockets("/ws/units/wuchang/", user=city.supervisor).ready()
    assert sockets("/ws/units/wuchang-zhongnan/", user=city.supervisor).ready()
    assert sockets("/ws/units/water-group/", user=city.supervisor).closed_with() == FORBIDDEN
    assert sockets("/ws/units/water-group/").closed_with() == UNAUTHENTICATED


def test_unknown_units_and_paths_are_refused_with_not_found(city, sockets):
    assert sockets("/ws/units/no-such-unit/", user=city.dispatcher).closed_with() == NOT_FOUND
    assert sockets("/ws/units/Water_Group/", user=city.dispatcher).closed_with() == NOT_FOUND
    assert sockets("/ws/elsewhere/", user=city.dispatcher).closed_with() == NOT_FOUND
    city.other_bureau.is_active = False
    city.other_bureau.save()
    assert sockets("/ws/units/power-supply/", user=city.dispatcher).closed_with() == NOT_FOUND


def test_a_supervisor_hears_the_whole_subtree_and_a_handler_only_their_unit(city, sockets):
    ticket = make_ticket(city, State.ACCEPTED)
    supervisor = sockets("/ws/units/wuchang/", user=city.supervisor)
    street = sockets("/ws/units/wuchang-zhongnan/", user=city.street_handler)
    bureau = sockets("/ws/units/water-group/", user=city.handler)
    for socket in (supervisor, street, bureau):
        socket.ready()
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.street, actor=city.dispatcher)
    for socket in (supervisor, street):
        message = socket.next()
        assert (message["type"], message["number"], message["unit"]) == ("ticket.dispatch", ticket.number, "wuchang-zhongnan")
    assert bureau.quiet()


def test_removing_a_membership_closes_the_socket(city, sockets):
    socket = sockets("/ws/units/water-group/", user=city.handler)
    other = sockets("/ws/units/water-group/", user=city.unit_admin)
    socket.ready()
    other.ready()
    Membership.objects.filter(user=city.handler, unit=city.bureau).delete()
    assert socket.closed_with() == FORBIDDEN
    # Nobody else is affected.
    ticket = make_ticket(city, State.DISPATCHED)
    assert other.next()["number"] == ticket.number


def test_a_move_away_from_the_centre_closes_the_dispatch_socket(city, sockets):
    socket = sockets("/ws/dispatch/", user=city.dispatcher, via="session")
    socket.ready()
    membership = Membership.objects.get(user=city.dispatcher)
    membership.unit, membership.role = city.bureau, Role.HANDLER
    membership.save()
    assert socket.closed_with() == FORBIDDEN


def test_disabling_an_account_closes_its_sockets(city, sockets):
    socket = sockets("/ws/dispatch/", user=city.dispatcher)
    socket.ready()
    city.dispatcher.is_active = False
    city.dispatcher.save()
    assert socket.closed_with() == FORBIDDEN


def _tracking_session(asgi_server, ticket, code) -> str:
    client = Client()
    response = client.post(f"/track/{ticket.number}/", {"code": code})
    assert response.status_code == 302
    return client.cookies["sessionid"].value


def test_track_socket_needs_the_access_code(city, sockets, asgi_server):
    ticket, code = services.ticket_create(category=city.category, description="路灯不亮", channel="web")
    other, _other_code = services.ticket_create(category=city.category, description="井盖缺失", channel="web")
    session = _tracking_session(asgi_server, ticket, code)
    assert sockets(f"/ws/track/{ticket.number}/", session=session).ready()
    assert sockets(f"/ws/track/{other.number}/", session=session).closed_with() == UNAUTHENTICATED
    assert sockets(f"/ws/track/{ticket.number}/", session=session, origin="http://evil.example").closed_with() == UNAUTHENTICATED
    assert sockets(f"/ws/track/{ticket.number}/", headers={"X-Minhu-Access-Code": code}, origin=None).ready()
    wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
    assert sockets(f"/ws/track/{ticket.number}/", headers={"X-Minhu-Access-Code": wrong}).closed_with() == FORBIDDEN
    # An unknown number is refused exactly like a wrong code.
    assert sockets("/ws/track/9999999999999/", headers={"X-Minhu-Access-Code": code}).closed_with() == FORBIDDEN
    assert sockets(f"/ws/track/{ticket.number}/").closed_with() == UNAUTHENTICATED


def test_guessing_access_codes_over_sockets_is_limited(city, sockets):
    ticket, code = services.ticket_create(category=city.category, description="路灯不亮", channel="web")
    codes = []
    for attempt in range(25):
        socket = sockets(f"/ws/track/{ticket.number}/", headers={"X-Minhu-Access-Code": f"x{attempt}"})
        codes.append(socket.closed_with())
    assert codes[:20] == [FORBIDDEN] * 20
    assert set(codes[20:]) == {4429}
    # Even the right code waits out the hour now.
    assert sockets(f"/ws/track/{ticket.number}/", headers={"X-Minhu-Access-Code": code}).closed_with() == 4429
