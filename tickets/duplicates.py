"""Likely originals of a ticket: the same problem already reported and still open (重复件).

One burst main brings a dozen calls, and a caller who hears nothing rings again. The
centre sees, beside each ticket waiting for it, the open tickets it probably repeats,
and merges it into one of them; the reporters of merged tickets then hear the result
of the ticket that carried theirs (tickets.notifications.notify_result).

Nothing is stored: the list is read when a ticket waiting for the centre is shown.
Every query is bounded by its reported_at window and an index (the reporter's phone,
the category with reported_at) and limited, so its cost follows the city's daily
intake, not the years of tickets kept. Similarities (pg_trgm) are computed on those
rows only, never looked up through the trigram indexes: on a table of millions, a few
words every report shares (请尽快处理) make that lookup cost more than the window.
"""

import datetime as dt
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.search import TrigramSimilarity
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Upper
from django.utils.translation import gettext, ngettext

from departments.selectors import staff_scope
from tickets.models import OPEN_STATES, Ticket
from tickets.selectors import DESK_STATES, ticket_visible_to

ADDRESS_SIMILARITY = 0.6
TEXT_SIMILARITY = 0.5
# Rows read per rule: a ticket repeated more often than this is flagged all the same.
_ROWS_PER_RULE = 50
_METERS_PER_DEGREE = 111_320
_EARTH_RADIUS_METERS = 6_371_000


@dataclass(frozen=True)
class Original:
    """An open ticket this one probably repeats, why (in the reader's language), and how surely."""

    ticket: Ticket
    reasons: list[str]
    score: float


@dataclass
class _Match:
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0

    def add(self, reason: str, score: float) -> None:
        self.reasons.append(reason)
        self.score += score


def likely_originals_for(user, ticket: Ticket, *, limit: int = 5) -> list[Original]:
    """Return the likely originals the ticket's pages show this user, among the tickets they may see.

    Only the centre's staff, who merge, and only while the ticket waits for the centre
    (it can be merged then); anyone else gets none.
    """
    if ticket.state not in DESK_STATES or not staff_scope(user).is_operator:  # operators and dispatchers
        return []
    return likely_originals(ticket, limit=limit, among=ticket_visible_to(user))


def likely_originals(ticket: Ticket, *, limit: int = 5, among: QuerySet[Ticket] | None = None) -> list[Original]:
    """Return the open tickets `ticket` most likely repeats, surest first.

    A candidate is open (a merged ticket is not: its target is found instead), is not
    the ticket itself, and was reported within the rule's window either side of it.
    `among` narrows them (the reader's `ticket_visible_to`).
    """
    base = (among if among is not None else Ticket.objects.all()).filter(state__in=OPEN_STATES).exclude(id=ticket.id)
    matches: dict[int, _Match] = {}
    for rule in (_same_reporter, _same_place, _similar_text):
        for candidate_id, reason, score in rule(ticket, base):
            matches.setdefault(candidate_id, _Match()).add(reason, score)
    if not matches:
        return []
    best = sorted(matches.items(), key=lambda item: (-item[1].score, item[0]))[:limit]
    tickets = Ticket.objects.select_related("category", "unit").in_bulk([candidate_id for candidate_id, _m in best])
    return [
        Original(ticket=tickets[candidate_id], reasons=match.reasons, score=round(match.score, 3))
        for candidate_id, match in best if candidate_id in tickets
    ]


def _window(ticket: Ticket, delta: dt.timedelta) -> Q:
    return Q(reported_at__gte=ticket.reported_at - delta, reported_at__lte=ticket.reported_at + delta)


def _reporter_window() -> dt.timedelta:
    return dt.timedelta(hours=settings.MINHU_DUPLICATE_REPORTER_HOURS)


def _place_window() -> dt.timedelta:
    return dt.timedelta(days=settings.MINHU_DUPLICATE_PLACE_DAYS)


def _same_reporter(ticket: Ticket, base: QuerySet[Ticket]) -> Iterable[tuple[int, str, float]]:
    # The index ticket_reporter_phone: a phone has a handful of tickets, ever.
    if not ticket.reporter_phone:
        return
    rows = (
        base.filter(_window(ticket, _reporter_window()), reporter_phone=ticket.reporter_phone)
        .order_by("-reported_at").values_list("id", "reported_at")[:_ROWS_PER_RULE]
    )
    for candidate_id, reported_at in rows:
        hours = round(abs((ticket.reported_at - reported_at).total_seconds()) / 3600)
        if not hours:
            yield candidate_id, gettext("The same reporter's phone, within the hour."), 1.0
            continue
        yield candidate_id, ngettext(
            "The same reporter's phone, %(hours)d hour apart.",
            "The same reporter's phone, %(hours)d hours apart.", hours,
        ) % {"hours": hours}, 1.0


def _same_place(ticket: Ticket, base: QuerySet[Ticket]) -> Iterable[tuple[int, str, float]]:
    # The category and the window narrow first (ticket_category_reported_at), then the
    # coordinates' bounding box or the address.
    nearby = base.filter(_window(ticket, _place_window()), category_id=ticket.category_id)
    found: set[int] = set()
    if ticket.lat is not None and ticket.lng is not None:
        meters = settings.MINHU_DUPLICATE_METERS
        lat, lng = float(ticket.lat), float(ticket.lng)
        dlat = meters / _METERS_PER_DEGREE
        dlng = dlat / max(math.cos(math.radians(lat)), 0.01)
        rows = nearby.filter(
            lat__gte=_degrees(lat - dlat), lat__lte=_degrees(lat + dlat),
            lng__gte=_degrees(lng - dlng), lng__lte=_degrees(lng + dlng),
        ).values_list("id", "lat", "lng")[:_ROWS_PER_RULE]
        for candidate_id, other_lat, other_lng in rows:
            distance = haversine_meters(lat, lng, float(other_lat), float(other_lng))
            if distance <= meters:
                found.add(candidate_id)
                yield candidate_id, gettext("The same category, %(meters)d m away.") % {
                    "meters": round(distance),
                }, 0.9 - 0.3 * distance / meters
    key = normalized_address(ticket.address)
    if not key:
        return
    if connection.vendor == "postgresql":
        # A similarity of 0.3 keeps the variants of one address as written (spaces,
        # punctuation) for the exact comparison below. Computed on the category's
        # tickets of the window only: pg_trgm's `%` would send the planner to the
        # trigram index, whose cost grows with every address the city ever had.
        address = TrigramSimilarity(Upper("address"), Value(ticket.address.upper()))
        rows = list(
            nearby.annotate(similarity=address).filter(similarity__gte=0.3)
            .order_by("-similarity").values_list("id", "address", "similarity")[:_ROWS_PER_RULE]
        )
    else:
        # SQLite (the embedded demo) has no trigrams: the same address only.
        rows = (
            nearby.exclude(address="").order_by("-reported_at")
            .annotate(similarity=Value(0.0)).values_list("id", "address", "similarity")[:_ROWS_PER_RULE * 10]
        )
    for candidate_id, address, similarity in rows:
        if candidate_id in found:
            continue
        if normalized_address(address) == key:
            yield candidate_id, gettext("The same category at the same address."), 0.8
        elif similarity >= ADDRESS_SIMILARITY:
            yield candidate_id, gettext("The same category at a similar address (%(percent)d%% alike).") % {
                "percent": round(similarity * 100),
            }, 0.6 * similarity


def _similar_text(ticket: Ticket, base: QuerySet[Ticket]) -> Iterable[tuple[int, str, float]]:
    # PostgreSQL only (pg_trgm), and within the category and the window, like the place:
    # across categories the trigram index on UPPER(description) would be read, and a
    # few words every report shares (请尽快处理) make that cost grow with the whole table.
    if connection.vendor != "postgresql" or not ticket.description:
        return
    similarity = TrigramSimilarity(Upper("description"), Value(ticket.description.upper()))
    rows = (
        base.filter(_window(ticket, _place_window()), category_id=ticket.category_id)
        .annotate(similarity=similarity).filter(similarity__gte=TEXT_SIMILARITY)
        .order_by("-similarity").values_list("id", "similarity")[:_ROWS_PER_RULE]
    )
    for candidate_id, similarity in rows:
        yield candidate_id, gettext("A very similar description (%(percent)d%% alike).") % {
            "percent": round(similarity * 100),
        }, similarity


def _degrees(value: float) -> Decimal:
    return Decimal(f"{value:.6f}")


def haversine_meters(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Return the great-circle distance between two points, in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * _EARTH_RADIUS_METERS * math.asin(math.sqrt(a))


def normalized_address(address: str) -> str:
    """Return the address without spaces or punctuation, in one case and width (Ｎｏ.１ = no1)."""
    text = unicodedata.normalize("NFKC", address or "").casefold()
    return "".join(ch for ch in text if ch.isalnum())


def possible_duplicate_ids(tickets: list[Ticket]) -> set[int]:
    """Return the ids among `tickets` (a page of the desk's queue) whose reporter has another open ticket.

    Only the reporter rule, in one query for the page (an index probe per row): the
    place and text rules read a category's tickets of two weeks per row, too much for
    a queue refreshed at every event. The ticket's own panel applies every rule.
    """
    ids = [ticket.id for ticket in tickets if ticket.state in DESK_STATES and ticket.reporter_phone]
    if not ids:
        return set()
    window = _reporter_window()
    # `~Q(reporter_phone="")` lets the planner use the partial index ticket_reporter_phone.
    same_reporter = Ticket.objects.filter(
        ~Q(reporter_phone=""), reporter_phone=OuterRef("reporter_phone"), state__in=OPEN_STATES,
        reported_at__gte=OuterRef("reported_at") - window, reported_at__lte=OuterRef("reported_at") + window,
    ).exclude(id=OuterRef("id"))
    return set(Ticket.objects.filter(Exists(same_reporter), id__in=ids).values_list("id", flat=True))
