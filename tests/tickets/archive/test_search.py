"""Staff search every ticket they may see, the archive included: numbers, phones, addresses, Chinese text."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_ticket
from tests.tickets.admin.helpers import CHANGELIST, change_url
from tests.tickets.api.helpers import TICKETS, assert_error
from tickets import search
from tickets.models import Channel, State, Ticket

SEARCH = "/desk/search/"
PHONE = "13912345678"


@pytest.fixture
def archived(city):
    return make_ticket(city, State.ARCHIVED, description="和平大道路灯不亮已经三天", address="武昌区中南路99号",
                       reporter_phone=PHONE)


@pytest.fixture
def small_window(monkeypatch):
    """Make the newest-tickets window tiny, so that a few tickets exercise both ways of searching."""
    monkeypatch.setattr(search, "RECENT_WINDOW", 3)


def _search(client, q: str, **params):
    return client.get(SEARCH, {"q": q, **params})


def _found(response) -> str:
    assert response.status_code == 200, response.content
    return response.content.decode()


def _numbers(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["number"] for row in response.json()["results"]]


# -- what a term finds -----------------------------------------------------------------------

def test_staff_find_an_archived_ticket_by_chinese_words_of_its_description(browse, city, archived):
    make_ticket(city, description="小区停水")

    page = _found(_search(browse(city.dispatcher), "路灯不亮"))

    assert archived.number in page and "小区停水" not in page


def test_staff_find_an_archived_ticket_by_its_address(browse, city, archived):
    make_ticket(city, address="汉口解放大道1号")

    page = _found(_search(browse(city.dispatcher), "中南路99号"))

    assert archived.number in page and "解放大道" not in page


def test_the_text_search_ignores_case_and_surrounding_spaces(browse, city):
    ticket = make_ticket(city, State.CLOSED, address="光谷大道 Block C 3栋")

    assert ticket.number in _found(_search(browse(city.dispatcher), "  block c  "))


def test_a_handler_finds_its_units_archived_ticket_by_its_number(browse, city, archived):
    page = _found(_search(browse(city.handler), archived.number))

    assert f"/desk/record/{archived.number}/" in page


def test_the_centre_finds_a_reporters_tickets_by_phone_in_any_format_and_sees_it_in_full(browse, city, archived):
    make_ticket(city, reporter_phone="13800138000")

    for typed in (PHONE, "139 1234 5678", "+86 139-1234-5678"):
        page = _found(_search(browse(city.operator), typed))
        assert archived.number in page and PHONE in page
        assert "13800138000" not in page


def test_unit_staff_see_phones_masked_and_cannot_search_the_reporters_phone(browse, city, archived):
    client = browse(city.handler)

    assert archived.number not in _found(_search(client, PHONE))
    page = _found(_search(client, "路灯不亮"))
    assert archived.number in page and "139****5678" in page and PHONE not in page


# -- who finds what --------------------------------------------------------------------------

def test_a_handler_cannot_find_another_units_ticket_by_text_or_number(browse, api, city):
    other = make_ticket(city, State.DISPATCHED, unit=city.other_bureau, description="变压器烧毁停电")
    own = make_ticket(city, State.ARCHIVED, description="变压器旁水管漏水")
    client = browse(city.handler)

    page = _found(_search(client, "变压器"))
    assert own.number in page and other.number not in page
    assert f"/desk/record/{other.number}/" not in _found(_search(client, other.number))
    assert _numbers(api(city.handler).get(TICKETS, {"q": "变压器"})) == [own.number]
    assert _numbers(api(city.handler).get(TICKETS, {"q": other.number})) == []


def test_a_supervisor_finds_its_subtrees_tickets_only(browse, city):
    street = make_ticket(city, State.ARCHIVED, unit=city.street, description="中南路井盖缺失")
    bureau = make_ticket(city, State.ARCHIVED, description="中南路水管爆裂")

    page = _found(_search(browse(city.supervisor), "中南路"))

    assert street.number in page and bureau.number not in page


def test_the_search_page_is_for_staff_only(client, browse, city):
    assert client.get(SEARCH, {"q": "路灯"}).status_code == 302  # to the login page
    assert browse(city.outsider).get(SEARCH, {"q": "路灯"}).status_code == 403


# -- bad input ---------------------------------------------------------------------------------

def test_a_term_too_short_or_too_long_is_refused_with_a_clear_message(browse, api, city):
    client = browse(city.dispatcher)

    short = _search(client, " 水 ")
    assert short.status_code == 400 and "Type at least 2 characters to search." in short.content.decode()
    long = _search(client, "路" * 101)
    assert long.status_code == 400 and "A search takes at most 100 characters." in long.content.decode()
    body = assert_error(api(city.dispatcher).get(TICKETS, {"q": "水"}), 400, "invalid")
    assert body["fields"] == {"q": ["Type at least 2 characters to search."]}
    assert_error(api(city.dispatcher).get(TICKETS, {"q": "路" * 150}), 400, "invalid")


def test_a_page_cursor_that_is_not_one_is_refused(browse, city):
    response = _search(browse(city.dispatcher), "路灯不亮", before="abc")

    assert response.status_code == 400 and "not a page of the search" in response.content.decode()


def test_an_empty_search_shows_the_form_only(browse, city):
    page = _found(_search(browse(city.dispatcher), "   "))

    assert 'name="q"' in page and "No ticket that you may see matches." not in page


# -- the newest tickets first, then the trigram indexes ----------------------------------------

def test_a_term_beyond_the_newest_tickets_is_found_through_the_trigram_indexes(browse, city, small_window):
    old = make_ticket(city, State.ARCHIVED, description="江滩公园路灯不亮")
    for _ in range(4):
        make_ticket(city, description="小区停水")

    page = _found(_search(browse(city.dispatcher), "路灯不亮"))

    assert old.number in page
    assert "newest tickets only" not in page


def test_a_term_without_a_trigram_searches_the_newest_tickets_and_says_so(browse, city, small_window):
    old = make_ticket(city, State.ARCHIVED, description="路灯坏了")
    new = make_ticket(city, description="路灯闪烁")
    for _ in range(3):
        make_ticket(city, description="小区停水")
    make_ticket(city, description="路灯又坏了")

    page = _found(_search(browse(city.dispatcher), "路灯"))

    assert old.number not in page and new.number not in page
    assert "looked for among the newest tickets only" in page


def test_pages_of_results_run_newest_first_without_gaps_or_repeats(browse, city, small_window, monkeypatch):
    monkeypatch.setattr(search, "PAGE_SIZE", 2)
    wanted = []
    for n in range(7):
        wanted.append(make_ticket(city, State.CLOSED if n % 2 else State.REPORTED, description=f"雄楚大道积水{n}"))
        make_ticket(city, description="小区停水")
    client = browse(city.dispatcher)

    seen, before = [], None
    while True:
        page = search.ticket_archive_search(user=city.dispatcher, text="雄楚大道积水", before=before)
        seen += [ticket.number for ticket in page.tickets]
        if page.next_before is None:
            break
        assert f"before={page.next_before}" in _found(_search(client, "雄楚大道积水", before=before or ""))
        before = page.next_before

    assert seen == [ticket.number for ticket in reversed(wanted)]


def test_the_api_pages_a_text_search_forward_and_back_without_gaps_or_repeats(api, city, small_window):
    wanted = []
    for n in range(5):
        wanted.append(make_ticket(city, description=f"徐东大街噪音{n}"))
        make_ticket(city, description="小区停水")
    client = api(city.dispatcher)
    newest_first = [ticket.number for ticket in reversed(wanted)]

    first = {"q": "徐东大街噪音", "page_size": 2}
    body = client.get(TICKETS, first).json()
    pages = [[row["number"] for row in body["results"]]]
    while body["next"]:
        body = client.get(body["next"]).json()
        pages.append([row["number"] for row in body["results"]])
    assert [number for page in pages for number in page] == newest_first

    body = client.get(TICKETS, first).json()
    second = client.get(body["next"]).json()
    back = client.get(second["previous"]).json()
    assert [row["number"] for row in back["results"]] == pages[0]


def test_the_api_text_search_combines_with_a_report_window(api, city, archived):
    start, end = archived.reported_at.isoformat(), (archived.reported_at.replace(year=2100)).isoformat()

    response = api(city.dispatcher).get(TICKETS, {"q": "路灯不亮", "reported_after": start, "reported_before": end})

    assert _numbers(response) == [archived.number]


def _generated(city, count: int) -> None:
    """Write `count` reported tickets at once, with the generator's phrases and addresses."""
    from tickets.datagen import PHRASES, ROADS

    Ticket.objects.bulk_create(
        Ticket(number=f"2601019{n:06d}", channel=Channel.WEB, category=city.category, access_code_hash="-",
               description=f"{PHRASES[n % len(PHRASES)]}（{n}）", address=f"{ROADS[n % len(ROADS)]}{n % 388}号")
        for n in range(count)
    )
    with connection.cursor() as cursor:
        # As a long-lived table has them: GIN's pending list merged, the statistics fresh.
        for index in ("ticket_description_upper_trgm", "ticket_address_upper_trgm"):
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])
        cursor.execute("ANALYZE tickets_ticket")


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_a_rare_term_is_read_from_the_trigram_indexes_and_the_newest_tickets_from_the_key(
    city, monkeypatch
):
    from tickets.datagen import ROADS

    monkeypatch.setattr(search, "RECENT_WINDOW", 500)
    _generated(city, 4000)
    rare = f"{ROADS[17 % len(ROADS)]}{17 % 388}号"

    with CaptureQueriesContext(connection) as queries:
        found = search.text_matches(search.ticket_visible_to(city.dispatcher), rare, limit=26)
    scanned = next(q["sql"] for q in queries.captured_queries if "STRPOS" in q["sql"])
    indexed = next(q["sql"] for q in queries.captured_queries if "LIKE" in q["sql"])

    assert found.ids and not found.is_partial
    assert "tickets_ticket_pkey" in _plan(scanned) and "trgm" not in _plan(scanned)
    assert "ticket_address_upper_trgm" in _plan(indexed) and "ticket_description_upper_trgm" in _plan(indexed)


def _spread(city, count: int) -> None:
    """Write `count` tickets over four units, a unit's tickets among the others' as in a city."""
    from tickets.datagen import PHRASES, ROADS

    units = [city.bureau, city.street, city.other_bureau, city.district]
    Ticket.objects.bulk_create(
        Ticket(number=f"2601029{n:06d}", channel=Channel.WEB, category=city.category, access_code_hash="-",
               state=State.IN_PROGRESS, unit=units[n % 4],
               description=f"{PHRASES[n % 7]}（{n}）", address=f"{ROADS[n % 5]}{n % 13}号")
        for n in range(count)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket")


@pytest.mark.parametrize("who", ["handler", "supervisor"])
def test_a_scoped_search_walks_the_units_own_newest_tickets_and_finds_what_a_full_scan_finds(
    city, monkeypatch, who
):
    from django.db.models import Q

    from tickets.datagen import PHRASES, ROADS

    monkeypatch.setattr(search, "RECENT_WINDOW", 40)
    monkeypatch.setattr(search, "SCOPE_WINDOW", 30)
    monkeypatch.setattr(search, "PAGE_SIZE", 7)
    _spread(city, 700)
    user = getattr(city, who)
    visible = search.ticket_visible_to(user)
    common, rare, short = PHRASES[3].split("，")[0], f"{ROADS[2]}7号", "停水"

    for term in (common, rare, short):
        expected = list(
            visible.filter(Q(description__icontains=term) | Q(address__icontains=term))
            .order_by("-id").values_list("number", flat=True)
        )
        seen, before, partial = [], None, False
        while True:
            page = search.ticket_archive_search(user=user, text=term, before=before)
            seen += [ticket.number for ticket in page.tickets]
            partial |= page.is_partial
            if page.next_before is None:
                break
            before = page.next_before
        # A term without a trigram is looked for in the window only, and says so.
        assert partial == (term == short), term
        assert seen == (expected[: len(seen)] if partial else expected) and seen, term

    with CaptureQueriesContext(connection) as queries:
        search.ticket_archive_search(user=user, text=common)
    walked = next(q["sql"] for q in queries.captured_queries if "STRPOS" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + walked)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("ROLLBACK")
    assert "ticket_unit_id" in plan and "tickets_ticket_pkey" not in plan


# -- the back office's list --------------------------------------------------------------------

def test_the_admin_list_finds_an_archived_ticket_by_words_from_its_default_queue(browse, city, archived):
    page = _found(browse(city.dispatcher).get(CHANGELIST, {"q": "路灯不亮"}))

    assert change_url(archived) in page


def test_the_admin_list_explains_a_term_it_cannot_search(browse, city, archived):
    page = _found(browse(city.dispatcher).get(CHANGELIST, {"q": "水"}))

    assert "Type at least 2 characters to search." in page and change_url(archived) not in page


def test_every_staff_page_links_to_the_search(browse, city):
    for who in ("dispatcher", "handler", "supervisor"):
        page = _found(browse(getattr(city, who)).get(CHANGELIST))
        assert f'href="{SEARCH}"' in page


def test_a_search_result_links_the_ticket_page_and_its_record(browse, city, archived):
    page = _found(_search(browse(city.dispatcher), "路灯不亮"))

    assert change_url(archived) in page and f"/desk/record/{archived.number}/" in page
