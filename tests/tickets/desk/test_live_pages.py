"""The dispatch desk (/desk/) and the unit queues (/desk/queue/): who sees what, and what they show."""

import pytest

from departments.models import Routing
from tests.factories import make_ticket
from tickets import services
from tickets.models import State
from tickets.selectors import dispatch_candidates

pytestmark = pytest.mark.django_db


def test_the_desk_is_for_dispatchers_and_lists_what_waits_for_the_centre(browse, city):
    waiting = make_ticket(city, State.REPORTED, address="中南路1号")
    accepted = make_ticket(city, State.ACCEPTED)
    dispatched = make_ticket(city, State.DISPATCHED)
    page = browse(city.dispatcher).get("/desk/")
    assert page.status_code == 200
    html = page.content.decode()
    assert waiting.number in html and accepted.number in html and dispatched.number not in html
    assert 'data-live-socket="/ws/dispatch/"' in html
    assert page.context["counters"].waiting == 2
    assert page.context["counters"].reported_today == 3
    for user in (city.handler, city.supervisor, city.operator, city.outsider):
        assert browse(user).get("/desk/").status_code == 403


def test_a_returned_ticket_is_flagged_on_the_desk(browse, city):
    ticket = make_ticket(city, State.DISPATCHED)
    services.ticket_return(ticket_id=ticket.id, actor=city.handler, reason="wrong_territory")
    html = browse(city.dispatcher).get("/desk/").content.decode()
    assert "returned 1×" in html


def test_the_panel_shows_the_report_suggestions_and_actions(browse, city):
    ticket = make_ticket(city, State.REPORTED, address="武昌区中南路1号", reporter_phone="13800138000")
    make_ticket(city, State.IN_PROGRESS)
    client = browse(city.dispatcher)
    panel = client.get(f"/desk/tickets/{ticket.number}/")
    assert panel.status_code == 200
    html = panel.content.decode()
    assert "13800138000" in html  # the centre calls citizens back
    assert 'data-action="dispatch" data-unit="water-group"' in html
    assert "1 open ticket" in html
    assert f'data-api="/api/v1/tickets/{ticket.number}/"' in html
    # Without script, the desk shows the chosen ticket itself.
    assert 'data-unit="water-group"' in client.get(f"/desk/?ticket={ticket.number}").content.decode()
    assert client.get("/desk/tickets/9999999999999/").status_code == 404
    assert browse(city.handler).get(f"/desk/tickets/{ticket.number}/").status_code == 403


def test_a_territorial_category_suggests_the_street_then_the_district_of_the_address(city):
    city.category.routing = Routing.TERRITORIAL
    city.category.save()
    ticket = make_ticket(city, State.REPORTED, address="武昌区中南路街道18号")
    candidates = dispatch_candidates(ticket)
    assert [c.unit.code for c in candidates] == ["wuchang-zhongnan", "wuchang", "water-group"]
    assert "中南路街道" in candidates[0].reason
    nowhere = make_ticket(city, State.REPORTED, address="汉口某处")
    assert [c.unit.code for c in dispatch_candidates(nowhere)] == ["water-group"]


def test_a_handler_sees_their_unit_queue_with_flags(browse, city):
    fresh = make_ticket(city, State.DISPATCHED)
    sent_back = make_ticket(city, State.RESOLVED)
    services.ticket_send_back(ticket_id=sent_back.id, actor=city.dispatcher, reason="回复不完整")
    reopened = make_ticket(city, State.AWAITING_FEEDBACK)
    services.ticket_rate(ticket_id=reopened.id, actor=city.operator, rating="unsatisfied")
    elsewhere = make_ticket(city, State.DISPATCHED, unit=city.other_bureau)
    client = browse(city.handler)
    assert client.get("/desk/queue/")["Location"] == "/desk/queue/water-group/"
    page = client.get("/desk/queue/water-group/")
    html = page.content.decode()
    assert 'data-live-socket="/ws/units/water-group/"' in html
    assert [t.number for t in page.context["rows"]] == [reopened.number, sent_back.number, fresh.number]
    assert "sent back" in html and "reopened" in html
    assert elsewhere.number not in html
    assert client.get("/desk/queue/power-supply/").status_code == 404


def test_a_supervisor_watches_the_subtree_and_the_centre_any_unit(browse, city):
    street = make_ticket(city, State.DISPATCHED, unit=city.street)
    page = browse(city.supervisor).get("/desk/queue/wuchang/")
    assert [t.number for t in page.context["rows"]] == [street.number]
    assert page.context["subtree"] is True
    assert browse(city.supervisor).get("/desk/queue/water-group/").status_code == 404
    assert browse(city.dispatcher).get("/desk/queue/wuchang-zhongnan/").status_code == 200
    assert browse(city.outsider).get("/desk/queue/").status_code == 403


def test_the_back_office_links_to_the_live_screens_by_role(browse, city):
    assert "/desk/" in browse(city.dispatcher).get("/admin/").content.decode()
    html = browse(city.handler).get("/admin/tickets/ticket/").content.decode()
    assert 'href="/desk/queue/"' in html and 'href="/desk/"' not in html
