"""Reads of the statistics: tables of a period from the rollups, and the tickets behind a figure.

Every read is scoped by the one rule of what a user may see (departments.selectors
`staff_scope`, tickets.selectors `ticket_visible_to`): the centre reads the city; a
supervisor the units of its subtree; a handler its own units. The centre's own figures
(reports, rejections, merges, which no unit holds) are the centre's only.

A period reads the monthly rows of its whole months and the daily rows of its edge
days, and only the rows its question needs: the city's or a category's figures come
from the rows summed across units (ANY), a unit's from the rows summed across
categories; only a unit crossed with a category reads the detailed rows.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext

from departments.models import Category, Unit
from departments.selectors import staff_scope, unit_subtree_ids
from feedback.models import (
    ANY,
    COUNTERS,
    HANDLED_BUCKETS,
    NO_UNIT,
    Grain,
    Measure,
    StatsFact,
    StatsRollup,
)
from feedback.stats import rates
from tickets.errors import InvalidInput, NotAllowed
from tickets.models import Sla, Ticket
from tickets.selectors import sla_filter, ticket_visible_to

# The longest period a page or an export reads: two years, enough to compare a year with the one before.
MAX_PERIOD_DAYS = 731
# Rows of a drill-down page, and the most rows any export writes.
DRILL_PAGE = 50
DRILL_MAX_ROWS = 10_000
EXPORT_MAX_ROWS = 10_000
# The city's tickets at risk are counted by a periodic task every 30 s, never by a page
# (at a city's scale a count takes seconds): with no count this recent kept (the task
# stopped, a cold cache), the pages say the figure is not counted yet.
AT_RISK_KEY = "stats-at-risk"
AT_RISK_SECONDS = 90
# Dates a period may take: a typo like 0202 or 20260 is refused rather than read.
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2099, 12, 31)

BY_UNIT, BY_CATEGORY, BY_DISTRICT = "unit", "category", "district"


@dataclass(frozen=True)
class Period:
    """Local days from `start` to `end`, both included."""

    start: dt.date
    end: dt.date


def today() -> dt.date:
    return timezone.localdate()


def parse_period(start: str | None, end: str | None, *, default_days: int = 30) -> Period:
    """Return the period the two dates (YYYY-MM-DD) give; the last `default_days` days when both are blank.

    Refuse (InvalidInput) a date that is not one, an end before the start, and a period
    longer than MAX_PERIOD_DAYS.
    """
    last = today()
    try:
        end_day = dt.date.fromisoformat(end) if end else last
        start_day = dt.date.fromisoformat(start) if start else end_day - dt.timedelta(days=default_days - 1)
        if not (EARLIEST <= start_day and end_day <= LATEST):
            raise ValueError("out of range")
    except (ValueError, OverflowError):
        message = gettext("Give dates as YYYY-MM-DD between %(earliest)s and %(latest)s, e.g. %(example)s.") % {
            "earliest": EARLIEST.isoformat(), "latest": LATEST.isoformat(), "example": last.isoformat(),
        }
        raise InvalidInput(message, fields={"period": [message]}) from None
    if end_day < start_day:
        message = gettext("The period ends before it starts: the end date must be on or after the start date.")
        raise InvalidInput(message, fields={"period": [message]})
    if (end_day - start_day).days + 1 > MAX_PERIOD_DAYS:
        message = gettext("A period covers at most %(days)d days; choose a shorter one.") % {"days": MAX_PERIOD_DAYS}
        raise InvalidInput(message, fields={"period": [message]})
    return Period(start_day, end_day)


def month_period(month: str | None) -> Period:
    """Return the calendar month `month` (YYYY-MM); the last whole month when blank."""
    if month:
        try:
            first = dt.date.fromisoformat(f"{month}-01")
            if not EARLIEST <= first <= LATEST:
                raise ValueError("out of range")
        except ValueError:
            message = gettext("Give the month as YYYY-MM, e.g. %(example)s.") % {"example": f"{today():%Y-%m}"}
            raise InvalidInput(message, fields={"month": [message]}) from None
    else:
        first = (today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return Period(first, following - dt.timedelta(days=1))


def _period_rows(period: Period) -> Q:
    """Return the rollup rows of the period: its whole months, and the days of its partial months."""
    first_whole = period.start
    if first_whole.day != 1:
        first_whole = (first_whole.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    # The first day of the month the period ends in, unless the period ends with that month.
    end_whole = (period.end + dt.timedelta(days=1)).replace(day=1)
    if first_whole >= end_whole:
        return Q(grain=Grain.DAY, start__gte=period.start, start__lte=period.end)
    rows = Q(grain=Grain.MONTH, start__gte=first_whole, start__lt=end_whole)
    if period.start < first_whole:
        rows |= Q(grain=Grain.DAY, start__gte=period.start, start__lt=first_whole)
    if end_whole <= period.end:
        rows |= Q(grain=Grain.DAY, start__gte=end_whole, start__lte=period.end)
    return rows


@dataclass(frozen=True)
class Filters:
    """What a table is narrowed to (None: no narrowing), after the user's scope is applied."""

    unit_ids: frozenset[int] | None = None
    category_ids: frozenset[int] | None = None
    district_id: int | None = None
    # The centre sees the whole city, its own figures and the ANY rows included.
    sees_all: bool = True


def stats_filters(*, user, unit: Unit | None = None, category: Category | None = None,
                  district_id: int | None = None, unit_only: bool = False) -> Filters:
    """Return the filters for the user: a unit means its subtree (the unit alone with
    `unit_only`), a category group its categories, `district_id` NO_UNIT the units outside
    any district. Refuse a unit outside the user's scope.
    """
    scope = staff_scope(user)
    if not scope.sees_tickets:
        raise NotAllowed(gettext("Only hotline staff read the statistics."))
    unit_ids = None
    if unit is not None:
        if not scope.sees_all and unit.id not in scope.visible_unit_ids:
            message = gettext("You may not read the figures of %(unit)s.") % {"unit": unit.name}
            raise InvalidInput(message, fields={"unit": [message]})
        unit_ids = frozenset({unit.id}) if unit_only else frozenset(unit_subtree_ids(unit))
    if not scope.sees_all:
        unit_ids = scope.visible_unit_ids if unit_ids is None else unit_ids & scope.visible_unit_ids
    category_ids = None
    if category is not None:
        category_ids = frozenset(
            Category.objects.filter(Q(id=category.id) | Q(parent_id=category.id)).values_list("id", flat=True)
        )
    return Filters(unit_ids=unit_ids, category_ids=category_ids, district_id=district_id, sees_all=scope.sees_all)


def _rows(period: Period, filters: Filters, by: str | None, *, daily: bool = False) -> QuerySet[StatsRollup]:
    """Return the rollup rows a question reads; `daily` reads the period's days (a series by day or week)."""
    if daily:
        grains = Q(grain=Grain.DAY, start__gte=period.start, start__lte=period.end)
    else:
        grains = _period_rows(period)
    rows = StatsRollup.objects.filter(grains)
    by_units = filters.unit_ids is not None or filters.district_id is not None or by in (BY_UNIT, BY_DISTRICT)
    if not by_units:
        rows = rows.filter(unit_id=ANY)
    else:
        rows = rows.exclude(unit_id=ANY)
        if filters.unit_ids is not None:
            rows = rows.filter(unit_id__in=filters.unit_ids)
        if filters.district_id is not None:
            rows = rows.filter(district_id=filters.district_id)
        if by in (BY_UNIT, BY_DISTRICT) and filters.sees_all:
            rows = rows.exclude(unit_id=NO_UNIT)
    if filters.category_ids is not None:
        rows = rows.filter(category_id__in=filters.category_ids)
    elif by == BY_CATEGORY:
        rows = rows.exclude(category_id=ANY)
    else:
        rows = rows.filter(category_id=ANY)
    return rows


@dataclass
class Figures:
    """The counters of one row of a table (its histogram of handling times among them) and the figures made of them."""

    key: object
    counters: dict[str, int]
    at_risk: tuple[int, int] | None = None

    @property
    def rates(self) -> dict[str, float | None]:
        return {r.key: r.of(self.counters) for r in rates.RATES}

    @property
    def average_hours(self) -> float | None:
        return rates.average_hours(self.counters)

    @property
    def p90_hours(self) -> float | None:
        return rates.percentile_hours({index: self.counters[name] for index, name in enumerate(HANDLED_BUCKETS)})

    @property
    def average_bounces(self) -> float | None:
        return rates.average_bounces(self.counters)

    def add(self, other: "Figures") -> None:
        for name in COUNTERS:
            self.counters[name] += other.counters[name]


def _empty(key) -> Figures:
    return Figures(key=key, counters=dict.fromkeys(COUNTERS, 0))


def _summed(key, row: dict) -> Figures:
    """The figures of one row of sums (a sum over no rows is NULL: 0)."""
    return Figures(key=key, counters={name: row[name] or 0 for name in COUNTERS})


_SUMS = {name: Sum(name) for name in COUNTERS}


def stats_sums(*, period: Period, filters: Filters, by: str | None = None) -> dict[object, Figures]:
    """Return the period's figures summed per group (one entry, key None, without `by`)."""
    if by in (BY_UNIT, BY_DISTRICT):
        return regroup(stats_unit_sums(period=period, filters=filters), by)
    rows = _rows(period, filters, by)
    if by is None:
        # values() with no field would group by every column: one aggregate instead.
        return {None: _summed(None, rows.aggregate(**_SUMS))}
    return {row["category_id"]: _summed(row["category_id"], row) for row in rows.values("category_id").annotate(**_SUMS)}


def stats_unit_sums(*, period: Period, filters: Filters) -> dict[tuple[int, int], Figures]:
    """Return the period's figures per unit and district, (unit id, district id): what both
    the table by unit and the table by district add up (`regroup`), read once.

    A unit has one district, but its facts keep the district it had when they were
    counted, so a unit moved to another district counts in each for its own days.
    """
    rows = _rows(period, filters, BY_UNIT).values("unit_id", "district_id").annotate(**_SUMS)
    return {(row["unit_id"], row["district_id"]): _summed((row["unit_id"], row["district_id"]), row) for row in rows}


def regroup(unit_sums: dict[tuple[int, int], Figures], by: str) -> dict[object, Figures]:
    """Return stats_unit_sums' figures added up by unit (BY_UNIT) or by district (BY_DISTRICT)."""
    position = 0 if by == BY_UNIT else 1
    figures: dict[object, Figures] = {}
    for key, part in unit_sums.items():
        group = key[position]
        if group not in figures:
            figures[group] = _empty(group)
        figures[group].add(part)
    return figures


# The facts behind each counter, and the condition on their value where a counter counts only some.
DRILLS: dict[str, tuple[int, Q | None]] = {
    "reported": (Measure.REPORTED, None), "rejected": (Measure.REJECTED, None), "merged": (Measure.MERGED, None),
    "received": (Measure.RECEIVED, None), "claimed_on_time": (Measure.CLAIMED_ON_TIME, None),
    "claimed_late": (Measure.CLAIMED_LATE, None), "resolved_on_time": (Measure.RESOLVED_ON_TIME, None),
    "resolved_late": (Measure.RESOLVED_LATE, None), "handled": (Measure.HANDLED, None),
    "returned": (Measure.RETURNED, None), "kept": (Measure.KEPT, None),
    "kept_bounced": (Measure.KEPT, Q(value__gt=0)), "sent_back": (Measure.SENT_BACK, None),
    "satisfied": (Measure.SATISFIED, None), "basically_satisfied": (Measure.BASICALLY_SATISFIED, None),
    "reopened": (Measure.REOPENED, None), "expired": (Measure.EXPIRED, None), "closed": (Measure.CLOSED, None),
    "closed_reopened": (Measure.CLOSED, Q(value__gt=0)),
}


def parse_counters(text: str | None) -> tuple[str, ...]:
    """Return the counters a drill-down lists (comma-separated names); refuse an unknown one."""
    names = tuple(name for name in (text or "").split(",") if name)
    if not names or any(name not in DRILLS for name in names):
        message = gettext("Choose a figure to list the tickets of.")
        raise InvalidInput(message, fields={"measure": [message]})
    return names


def stats_facts(*, user, period: Period, filters: Filters, counters: Iterable[str]) -> QuerySet[StatsFact]:
    """Return the facts behind the counters in the period, newest first, with their tickets.

    Only tickets the user may see now are listed (a ticket a supervisor's unit returned
    and another unit holds now is counted in the unit's returns, but not shown).
    """
    which = Q()
    for name in counters:
        measure, condition = DRILLS[name]
        which |= Q(measure=measure) & (condition or Q())
    facts = StatsFact.objects.filter(which, day__gte=period.start, day__lte=period.end)
    if filters.unit_ids is not None:
        facts = facts.filter(unit_id__in=filters.unit_ids)
    if filters.district_id is not None:
        facts = facts.filter(district_id=filters.district_id).exclude(unit_id=NO_UNIT)
    if filters.category_ids is not None:
        facts = facts.filter(category_id__in=filters.category_ids)
    if not filters.sees_all:
        facts = facts.filter(ticket__in=ticket_visible_to(user))
    return facts.select_related("ticket", "ticket__category", "ticket__unit").order_by("-day", "-id")


PUBLIC_WEEKS = 12
PUBLIC_RATE_DAYS = 30
HOTTEST = 10


def public_figures(*, last: dt.date | None = None) -> dict:
    """Return what the public page shows, up to the day `last` (today): reports by category group and
    tickets by district per week, the city's three rates per week and per unit (last 30 days), the
    categories reported most in the last 7 days. Names of categories, districts and units, and counts only.
    """
    last = last or today()
    weeks = [last - dt.timedelta(days=7 * (PUBLIC_WEEKS - 1 - i) + 6) for i in range(PUBLIC_WEEKS)]
    period = Period(weeks[0], last)
    city = Filters()
    categories = {c.id: c for c in Category.objects.select_related("parent")}
    units = {u.id: u for u in Unit.objects.all()}

    def week_of(day: dt.date) -> int:
        return (day - weeks[0]).days // 7

    by_group: dict[str, list[int]] = {}
    for row in _rows(period, city, BY_CATEGORY, daily=True).values(
            "start", "category_id").annotate(total=Sum("reported")):
        category = categories.get(row["category_id"])
        if category is None or not row["total"]:
            continue
        group = (category.parent or category).name
        by_group.setdefault(group, [0] * PUBLIC_WEEKS)[week_of(row["start"])] += row["total"]
    by_district: dict[str, list[int]] = {}
    outside = gettext("City-wide units (bureaus, utilities)")
    for row in _rows(period, city, BY_DISTRICT, daily=True).values(
            "start", "district_id").annotate(total=Sum("received")):
        if not row["total"]:
            continue
        district = units.get(row["district_id"])
        name = district.name if district is not None else outside
        by_district.setdefault(name, [0] * PUBLIC_WEEKS)[week_of(row["start"])] += row["total"]

    weekly = {}
    for row in _rows(period, city, None, daily=True).values("start").annotate(
            **{name: Sum(name) for name in COUNTERS}):
        figures = weekly.setdefault(week_of(row["start"]), dict.fromkeys(COUNTERS, 0))
        for name in COUNTERS:
            figures[name] += row[name] or 0
    city_rates = {
        rate.key: [_percent(rate.of(weekly[w])) if w in weekly else None for w in range(PUBLIC_WEEKS)]
        for rate in rates.PUBLIC_RATES
    }

    recent = Period(last - dt.timedelta(days=PUBLIC_RATE_DAYS - 1), last)
    per_unit = []
    for unit_id, figures in stats_sums(period=recent, filters=city, by=BY_UNIT).items():
        unit = units.get(unit_id)
        if unit is None or not figures.counters["received"]:
            continue
        per_unit.append({
            "unit": unit.name, "received": figures.counters["received"],
            **{rate.key: _percent(rate.of(figures.counters)) for rate in rates.PUBLIC_RATES},
        })
    per_unit.sort(key=lambda row: (-row["received"], row["unit"]))

    this_week, week_before = Period(last - dt.timedelta(days=6), last), Period(
        last - dt.timedelta(days=13), last - dt.timedelta(days=7))
    now_counts = stats_sums(period=this_week, filters=city, by=BY_CATEGORY)
    before_counts = stats_sums(period=week_before, filters=city, by=BY_CATEGORY)
    hottest = sorted(
        ({"category": str(categories[cid]), "count": f.counters["reported"],
          "before": before_counts[cid].counters["reported"] if cid in before_counts else 0}
         for cid, f in now_counts.items() if cid in categories and f.counters["reported"]),
        key=lambda row: (-row["count"], row["category"]),
    )[:HOTTEST]
    return {
        "weeks": [f"{start:%m-%d}" for start in weeks],
        "week_starts": [start.isoformat() for start in weeks],
        "by_category": sorted(by_group.items(), key=lambda item: -sum(item[1])),
        "by_district": sorted(by_district.items(), key=lambda item: -sum(item[1])),
        "city_rates": city_rates,
        "per_unit": per_unit,
        "hottest": hottest,
        "rate_days": PUBLIC_RATE_DAYS,
    }


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def at_risk_count(*, now: dt.datetime | None = None) -> dict[int, tuple[int, int]]:
    """Count the city's tickets at risk now per unit (NO_UNIT: none holds it), (yellow, red), and keep the count.

    Yellow: a running deadline's yellow mark passed; red: the deadline itself. A figure
    of now, read from the tickets, not the rollups. At a year of a city with a large
    backlog this reads a tenth of the table (about a second), hence the periodic task.
    """
    now = now or timezone.now()
    warning, breached = sla_filter(Sla.WARNING, now), sla_filter(Sla.BREACHED, now)
    rows = (
        Ticket.objects.filter(warning | breached).order_by().values("unit_id")
        .annotate(yellow=Count("id", filter=warning), red=Count("id", filter=breached))
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Compiling this one scan to machine code costs more than the scan saves.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        counts = {row["unit_id"] or NO_UNIT: (row["yellow"], row["red"]) for row in rows}
    cache.set(AT_RISK_KEY, counts, AT_RISK_SECONDS)
    return counts


def at_risk_counts() -> dict[int, tuple[int, int]] | None:
    """Return the city's tickets at risk per unit as last counted by the periodic task (None: no count kept)."""
    return cache.get(AT_RISK_KEY)
