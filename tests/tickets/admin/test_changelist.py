"""The ticket queue: urgent work first, deadlines marked, and a cost that does not grow with the rows."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_ticket
from tests.tickets.admin.helpers import CHANGELIST, change_url
from tickets.admin import CappedPaginator, TicketAdmin
from tickets.models import State, Ticket

FILTERS = ["", "queue=open", "queue=all", "state__exact=dispatched", "channel__exact=phone", "sla=breached", "sla=ok",
           "overdue=listed", "q=2611240000001", "o=5"]


def _tickets(city, count: int, unit=None) -> None:
    for _ in range(count):
        make_ticket(city, State.DISPATCHED, unit=unit)


def _queries(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize("who", ["handler", "dispatcher", "supervisor"])
def test_a_queue_of_fifty_costs_the_same_few_queries_as_a_queue_of_five(
    browse, city, who, django_assert_max_num_queries
):
    unit = city.street if who == "supervisor" else city.bureau
    client = browse(getattr(city, who))
    _tickets(city, 5, unit)
    small = _queries(client, CHANGELIST)
    _tickets(city, 45, unit)

    with django_assert_max_num_queries(12):
        large = _queries(client, CHANGELIST)

    assert len(large) == len(small)
    assert large[-1].count("JOIN") >= 2  # category, its group and the unit come with the rows


@pytest.mark.parametrize("query", FILTERS)
def test_every_filter_answers_for_the_handler_and_the_dispatcher(browse, city, query):
    _tickets(city, 2)
    for who in ("handler", "dispatcher"):
        assert browse(getattr(city, who)).get(f"{CHANGELIST}?{query}").status_code == 200, (who, query)


def test_the_count_stops_at_the_cap_and_says_so(browse, city, monkeypatch):
    monkeypatch.setattr(CappedPaginator, "cap", 3)
    monkeypatch.setattr(TicketAdmin, "list_per_page", 2)
    _tickets(city, 5)

    queries = _queries(browse(city.dispatcher), CHANGELIST)
    page = browse(city.dispatcher).get(CHANGELIST).content.decode()

    assert "3+ tickets" in page
    counts = [sql for sql in queries if "COUNT(" in sql.upper()]
    assert counts and all("LIMIT 4" in sql for sql in counts)


def test_the_count_is_exact_below_the_cap(browse, city):
    _tickets(city, 3)
    assert "3 tickets" in browse(city.dispatcher).get(CHANGELIST).content.decode()


@pytest.mark.parametrize("url", ["/admin/tickets/ticketevent/", "/admin/tickets/notification/",
                                 "/admin/tickets/extensionrequest/", "/admin/tickets/personaldataaccess/"])
def test_the_logs_count_only_up_to_the_cap_too(browse, city, monkeypatch, url):
    monkeypatch.setattr(CappedPaginator, "cap", 3)
    _tickets(city, 3)
    queries = _queries(browse(city.dispatcher), url + "?_facets=1")
    counts = [sql for sql in queries if "COUNT(" in sql.upper()]
    assert counts and all("LIMIT 4" in sql for sql in counts)


def test_the_most_overdue_come_first_then_the_nearest_and_overdue_is_marked(browse, city):
    calm, soon, late, later_twin = (make_ticket(city, State.DISPATCHED) for _ in range(4))
    now = timezone.now()

    def due(ticket, delta, **fields):
        Ticket.objects.filter(id=ticket.id).update(due_at=now + delta, warn_at=now + delta * 0.8, **fields)

    due(calm, dt.timedelta(days=3))
    due(soon, dt.timedelta(hours=1))
    due(late, -dt.timedelta(hours=5), dispatched_at=now - dt.timedelta(days=2), escalation_level=1)
    due(later_twin, -dt.timedelta(hours=5), dispatched_at=now - dt.timedelta(days=1))  # same deadline, newer

    page = browse(city.handler).get(CHANGELIST).content.decode()

    positions = [page.index(change_url(t)) for t in (later_twin, late, soon, calm)]
    assert positions == sorted(positions)

    def row(ticket) -> str:
        rest = page[page.index(change_url(ticket)):]
        return rest[: rest.index("</tr>")]

    assert 'class="sla-badge sla-breached"' in row(late)
    assert "sla-badge" not in row(calm)


def test_the_record_of_all_tickets_lists_the_newest_first(browse, city):
    older, newer = make_ticket(city, State.CLOSED), make_ticket(city, State.DISPATCHED)
    page = browse(city.handler).get(CHANGELIST, {"queue": "all"}).content.decode()
    assert page.index(change_url(newer)) < page.index(change_url(older))


def test_the_ticket_page_names_each_step_of_the_history_in_the_readers_language(city, browse):
    ticket = make_ticket(city, State.IN_PROGRESS)
    english = browse(city.dispatcher).get(change_url(ticket)).content.decode()
    chinese_client = browse(city.dispatcher)
    chinese_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    chinese = chinese_client.get(change_url(ticket)).content.decode()

    assert '<td title="claim">claimed</td>' in english
    assert '<td title="dispatch">dispatched</td>' in english
    assert '<td title="claim">签收</td>' in chinese
