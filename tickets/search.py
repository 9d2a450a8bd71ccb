"""Staff search over every ticket a user may see, the archive included.

A term is a ticket number (exact, on its unique index), a reporter's phone (exact, on
its partial index; only for the centre, who see phones), or text of the description or
the address, Chinese included. Text must cost about the same whatever it is, at ten
million tickets, and each of PostgreSQL's two ways to the newest matches fails on some
terms: walking the primary key newest first stops early for a common term but reads
the whole table for a rare or an old one; the trigram indexes on UPPER(description) and
UPPER(address) (migration 0004) find a rare term's tickets at once but fetch and sort
every match of a common one. The planner can only guess a term's frequency, so the
choice is not left to it: the newest tickets before the cursor, a range of
RECENT_WINDOW ids of the primary key, are tested first (a common term fills its page
there); only when they hold too few matches are the trigram indexes asked for the rest,
and a term that filled no page among the newest tickets has few matches to fetch and
sort.

A handler or a supervisor sees a few units' tickets, a small share of the city's
newest: a term common in their units would often fill no page among the city's newest,
and then every match in the city would be fetched from the trigram indexes to be
checked against their units. Their window is their units' own newest tickets instead
(SCOPE_WINDOW of them, found on the index on unit and id).
"""

import re
from collections.abc import Collection
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import ExpressionWrapper, F, IntegerField, Q, QuerySet, Value
from django.db.models.functions import StrIndex, Upper
from django.db.models.lookups import GreaterThan
from django.utils.translation import gettext

from departments.selectors import staff_scope
from tickets.errors import InvalidInput
from tickets.models import Ticket
from tickets.selectors import sees_personal_data, ticket_visible_to
from tickets.validation import normalize_phone

NUMBER, PHONE, TEXT = "number", "phone", "text"

MIN_LENGTH = 2
MAX_LENGTH = 100
# How many of the newest tickets a text term is tested against before the trigram
# indexes are asked: a term matching fewer than a page in them (about 1 in 800 for
# a page of 25) has at most N / 800 matches in N tickets to fetch and sort.
RECENT_WINDOW = 20_000
# A handler's or a supervisor's window: this many of their units' newest tickets. They
# lie on as many pages as tickets (a unit's tickets are spread over the table), where
# the city's newest lie together, so the window is smaller than RECENT_WINDOW.
SCOPE_WINDOW = 10_000
# A scope of more units than this (a large district) is walked as the city is.
SCOPE_MAX_UNITS = 64
# What the trigram query may hold in memory (PostgreSQL's work_mem) for its bitmaps.
BITMAP_MEMORY = "64MB"
PAGE_SIZE = 25

_NUMBER = re.compile(r"^\d{13,}$")
_PHONE_LIKE = re.compile(r"^[+\d][\d\s()-]{6,}$")
# pg_trgm finds a term through its trigrams: three letters or digits in a row.
_TRIGRAM = re.compile(r"[^\W_]{3}")


@dataclass(frozen=True)
class SearchTerm:
    kind: str  # NUMBER, PHONE or TEXT
    value: str


@dataclass(frozen=True)
class TextMatches:
    ids: list[int]
    # A term without a trigram (停水) was looked for among the newest tickets only,
    # and older ones remain.
    is_partial: bool


@dataclass(frozen=True)
class SearchPage:
    tickets: list[Ticket]
    # The cursor of the next page (older matches), None when there is none.
    next_before: int | None
    is_partial: bool


def parse_search_term(text: object, *, user) -> SearchTerm:
    """Read what staff typed as a ticket number, a reporter's phone or text.

    Unit staff see phones masked: a phone they type is text to them (found in what a
    citizen wrote), never the reporter's number, so a search cannot confirm what the
    mask hides. Refuse a term too short to mean anything or too long to be one.
    """
    term = " ".join(str(text or "").split())
    if len(term) < MIN_LENGTH:
        message = gettext("Type at least %(count)d characters to search.") % {"count": MIN_LENGTH}
        raise InvalidInput(message, fields={"q": [message]})
    if len(term) > MAX_LENGTH:
        message = gettext("A search takes at most %(count)d characters.") % {"count": MAX_LENGTH}
        raise InvalidInput(message, fields={"q": [message]})
    if _NUMBER.match(term) and not term.startswith("0086"):
        return SearchTerm(NUMBER, term)
    if _PHONE_LIKE.match(term) and sees_personal_data(user):
        try:
            return SearchTerm(PHONE, normalize_phone(term))
        except InvalidInput:
            pass
    return SearchTerm(TEXT, term)


def search_condition(term: SearchTerm) -> Q:
    """Return the term as one filter: exact for a number or a phone, the trigram indexes for text."""
    if term.kind == NUMBER:
        return Q(number=term.value)
    if term.kind == PHONE:
        return Q(reporter_phone=term.value)
    return Q(description__icontains=term.value) | Q(address__icontains=term.value)


def _scanned_condition(text: str) -> Q:
    # The same test as icontains, written so that no index can serve it: the window is
    # walked along the primary key, never swapped for a trigram scan of the whole table.
    needle = Upper(Value(text))
    return Q(GreaterThan(StrIndex(Upper("description"), needle), 0)) | Q(
        GreaterThan(StrIndex(Upper("address"), needle), 0)
    )


def text_matches(tickets: QuerySet[Ticket], text: str, *, limit: int, before: int | None = None,
                 after: int | None = None, units: Collection[int] | None = None) -> TextMatches:
    """Return the ids of up to `limit` tickets whose description or address holds `text`.

    Newest first below `before` (the next page), or oldest first above `after` (the
    previous page, read backwards); `tickets` is already narrowed to what the user may
    see and to any other filter. `units`, when `tickets` holds only those units'
    tickets (a handler's or a supervisor's scope), makes the first window their newest
    tickets instead of the city's.
    """
    newest_first = after is None
    scoped = newest_first and units is not None and 0 < len(units) <= SCOPE_MAX_UNITS
    if newest_first:
        top = before if before is not None else _newest_id() + 1
        order = "-id"
        if scoped:
            bound = _scope_bound(units, top)
            window = Q(id__lt=top) if bound is None else Q(id__gte=bound, id__lt=top)
            beyond = Q(pk__in=[]) if bound is None else Q(id__lt=bound)
        else:
            window, beyond = Q(id__gte=top - RECENT_WINDOW, id__lt=top), Q(id__lt=top - RECENT_WINDOW)
    else:
        window, beyond = Q(id__gt=after, id__lte=after + RECENT_WINDOW), Q(id__gt=after + RECENT_WINDOW)
        order = "id"
    in_window = tickets.filter(window).filter(_scanned_condition(text)).order_by(order).values_list("id", flat=True)
    # The scope's window is read from the index on (unit, id), every ticket of it: walking
    # the primary key instead, through the other units' tickets too, stops early for a
    # common term but reads some 25 times the window for a rare one.
    with _planner_settings(enable_indexscan="off") if scoped else nullcontext():
        found = list(in_window[:limit])
    if len(found) >= limit:
        return TextMatches(found, is_partial=False)
    rest = tickets.filter(beyond)
    if not _TRIGRAM.search(text):
        return TextMatches(found, is_partial=rest.exists())
    # Ordered by an expression, not the column: with ORDER BY id the planner may walk the
    # primary key through every older ticket; this leaves it the trigram indexes and a
    # sort of the few matches.
    key = ExpressionWrapper(F("id") + 0, output_field=IntegerField())
    rest = rest.filter(search_condition(SearchTerm(TEXT, text)))
    rest = rest.order_by(key.desc() if newest_first else key.asc())
    # A term common in the city but rare in a unit is found by ANDing two bitmaps of some
    # 400,000 pages each at ten million tickets. Beyond work_mem (4 MB by default) they
    # turn lossy and the scan rechecks every ticket of the unit: ten times slower.
    with _planner_settings(work_mem=BITMAP_MEMORY):
        found += list(rest.values_list("id", flat=True)[: limit - len(found)])
    return TextMatches(found, is_partial=False)


@contextmanager
def _planner_settings(**settings: str):
    """Run the block's queries with these PostgreSQL settings, as they were again after it.

    In a transaction of the block's own, or a savepoint of the caller's: a setting made
    with set_config(..., true) ends with the transaction, which may be the caller's, so
    each is put back to what it was. Other databases ignore the settings.
    """
    with transaction.atomic():
        if connection.vendor != "postgresql":
            yield
            return
        with connection.cursor() as cursor:
            before = {}
            for name, value in settings.items():
                cursor.execute("SELECT current_setting(%s), set_config(%s, %s, true)", [name, name, value])
                before[name] = cursor.fetchone()[0]
            yield
            for name, value in before.items():
                cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def _scope_bound(units: Collection[int], top: int) -> int | None:
    """Return the id of the units' SCOPE_WINDOW-th newest ticket below `top`, None if they have fewer.

    On PostgreSQL each unit's newest ids come in order from the index on (unit, id) and
    are merged, so no more than the window is read; `unit_id IN (...)` would read and
    sort every ticket the units ever had.
    """
    if connection.vendor != "postgresql" or len(units) == 1:
        newest = Ticket.objects.filter(unit_id__in=units, id__lt=top).order_by("-id").values_list("id", flat=True)
        return next(iter(newest[SCOPE_WINDOW - 1:SCOPE_WINDOW]), None)
    branch = f"(SELECT id FROM {Ticket._meta.db_table} WHERE unit_id = %s AND id < %s ORDER BY id DESC LIMIT %s)"
    ordered = sorted(units)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM ({' UNION ALL '.join([branch] * len(ordered))}) AS newest"
            " ORDER BY id DESC OFFSET %s LIMIT 1",
            [value for unit in ordered for value in (unit, top, SCOPE_WINDOW)] + [SCOPE_WINDOW - 1],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def ticket_search(tickets: QuerySet[Ticket], *, user, term: str, limit: int, before: int | None = None,
                  after: int | None = None) -> QuerySet[Ticket]:
    """Narrow `tickets` to those matching what staff typed (the admin's search box, the API's q).

    A text term keeps the `limit` matches nearest the cursor (`before`/`after`, as in
    text_matches); a number or a phone keeps every match. Raises InvalidInput.
    """
    parsed = parse_search_term(term, user=user)
    if parsed.kind != TEXT:
        return tickets.filter(search_condition(parsed))
    matches = text_matches(tickets, parsed.value, limit=limit, before=before, after=after, units=_units_of(user))
    return tickets.filter(id__in=matches.ids)


def _units_of(user) -> frozenset[int] | None:
    """Return the units whose tickets the user sees, None for the whole city (the centre)."""
    scope = staff_scope(user)
    return None if scope.sees_all else scope.visible_unit_ids


def _newest_id() -> int:
    return Ticket.objects.order_by("-id").values_list("id", flat=True).first() or 0


def ticket_archive_search(*, user, text: str, before: int | None = None,
                          page_size: int | None = None) -> SearchPage:
    """Return one page of the tickets the user may see that match `text`, newest first.

    `before` is the id the previous page ended at. Raises InvalidInput for a term that
    cannot be searched.
    """
    page_size = page_size or PAGE_SIZE
    term = parse_search_term(text, user=user)
    tickets = ticket_visible_to(user)
    is_partial = False
    if term.kind == TEXT:
        matches = text_matches(tickets, term.value, limit=page_size + 1, before=before, units=_units_of(user))
        tickets, is_partial = tickets.filter(id__in=matches.ids), matches.is_partial
    else:
        tickets = tickets.filter(search_condition(term))
        if before is not None:
            tickets = tickets.filter(id__lt=before)
    rows = list(tickets.select_related("category", "unit").order_by("-id")[: page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    return SearchPage(rows, rows[-1].id if more else None, is_partial)
