"""重办: "unsatisfied" sends the ticket back to its unit with the citizen's words; twice, and the centre is told."""

import pytest

from feedback.models import ReopenFlag
from tests.factories import make_ticket
from tests.feedback.helpers import awaiting, handle_again, reopen
from tickets import services
from tickets.models import State, TicketEvent

pytestmark = pytest.mark.django_db


def test_unsatisfied_reopens_to_the_same_unit_with_fresh_clocks_and_the_count(city):
    ticket = awaiting(city, unit=city.street)
    verified_claim_due = ticket.claim_due_at

    ticket = reopen(city, ticket, comment="井盖还是松的")

    assert (ticket.state, ticket.unit, ticket.reopen_count) == (State.DISPATCHED, city.street, 1)
    assert ticket.claimed_at is None and ticket.resolved_at is None and ticket.verified_at is None
    assert ticket.claim_due_at > verified_claim_due and ticket.due_at is not None
    event = ticket.events.get(kind="reopen")
    assert (event.from_state, event.to_state, event.unit, event.note) == (
        "awaiting_feedback", "dispatched", city.street, "井盖还是松的")
    assert not ReopenFlag.objects.exists()


def test_the_handler_sees_the_reopen_count_and_the_citizens_comment(browse, city):
    ticket = reopen(city, awaiting(city), comment="水压还是很低")
    ticket = reopen(city, handle_again(city, ticket), comment="晚上还是没水")
    client = browse(city.handler)

    queue = client.get("/desk/queue/water-group/").content.decode()
    page = client.get(f"/admin/tickets/ticket/{ticket.id}/change/").content.decode()

    assert "reopened 2×" in queue and "晚上还是没水" in queue and "水压还是很低" not in queue
    assert "reopened 2×" in page and "晚上还是没水" in page and "handled again (重办)" in page


def test_a_ticket_reopened_twice_is_flagged_to_the_centre(browse, city):
    ticket = reopen(city, awaiting(city))
    assert not ReopenFlag.objects.exists()
    assert "reopen_flagged" not in set(ticket.events.values_list("kind", flat=True))

    ticket = reopen(city, handle_again(city, ticket), comment="第二次还是没修好")

    flag = ReopenFlag.objects.get()
    assert flag.ticket == ticket and ticket.reopen_count == 2
    event = ticket.events.get(kind="reopen_flagged")
    assert (event.is_public, event.unit, event.note, event.payload) == (
        False, city.bureau, "第二次还是没修好", {"reopen_count": 2})
    desk = browse(city.dispatcher).get("/desk/")
    html = desk.content.decode()
    assert [f.ticket for f in desk.context["reopen_flags"]] == [ticket]
    assert f'data-number="{ticket.number}" data-reopened="2"' in html and "第二次还是没修好" in html
    panel = browse(city.dispatcher).get(f"/desk/tickets/{ticket.number}/").content.decode()
    assert "reopened 2×" in panel


def test_the_threshold_is_a_setting_and_each_further_reopen_tells_the_centre_again(city, settings):
    settings.MINHU_REOPEN_FLAG_COUNT = 1
    ticket = reopen(city, awaiting(city))
    ticket = reopen(city, handle_again(city, ticket))

    assert ReopenFlag.objects.filter(ticket=ticket).count() == 1
    assert [e.payload["reopen_count"] for e in ticket.events.filter(kind="reopen_flagged").order_by("id")] == [1, 2]


def test_a_flagged_ticket_leaves_the_desk_once_it_is_closed(browse, city):
    ticket = reopen(city, handle_again(city, reopen(city, awaiting(city))))
    other = make_ticket(city, State.IN_PROGRESS)

    ticket = handle_again(city, ticket)
    services.ticket_rate(ticket_id=ticket.id, actor=None, rating="satisfied", via="sms")

    assert browse(city.dispatcher).get("/desk/").context["reopen_flags"] == []
    assert ReopenFlag.objects.filter(ticket=ticket).exists()  # the history keeps it
    assert not ReopenFlag.objects.filter(ticket=other).exists()


def test_the_citizen_does_not_see_the_flag(city):
    from tickets.selectors import ticket_public_events

    ticket = reopen(city, handle_again(city, reopen(city, awaiting(city))))
    assert TicketEvent.objects.filter(ticket=ticket, kind="reopen_flagged").exists()
    assert "reopen_flagged" not in {e.kind for e in ticket_public_events(ticket)}
