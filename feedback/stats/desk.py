"""The staff's statistics pages: the dashboard, the tickets behind a figure, the monthly ranking.

Scoped like every staff page (feedback.stats.selectors): the centre reads the city,
supervisors their subtree, handlers their units. Every table downloads as CSV or Excel.
"""

import functools
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from departments.models import Category, Unit, UnitKind
from departments.selectors import staff_scope
from feedback.models import NO_UNIT, Measure
from feedback.stats import rates
from feedback.stats.export import check_export, export_response
from feedback.stats.rollup import stats_fresh_at
from feedback.stats.selectors import (
    DRILL_MAX_ROWS,
    DRILL_PAGE,
    DRILLS,
    EXPORT_MAX_ROWS,
    Filters,
    Period,
    month_period,
    parse_counters,
    parse_period,
    stats_facts,
    stats_filters,
    stats_sums,
    stats_unit_sums,
)
from feedback.stats.tables import (
    Cell,
    Column,
    Row,
    Table,
    at_risk_by_unit,
    categories_table,
    districts_table,
    hours,
    period_label,
    ranking_table,
    summary,
    units_table,
)
from tickets.desk.views import page_context, staff_only
from tickets.errors import InvalidInput, TicketError

_staff_with_tickets = staff_only(
    lambda scope: scope.sees_tickets,
    lambda: _("Only hotline staff read the statistics."),
)

# The query parameters that narrow every table, carried into each drill-down link.
FILTER_PARAMS = ("start", "end", "unit", "category", "district", "own")


def _filters(request) -> Filters:
    """Return the filters the query asks for, within the user's scope; InvalidInput when they make no sense."""
    unit = category = None
    district_id = None
    code = request.GET.get("unit", "")
    if code:
        unit = Unit.objects.filter(code=code).first()
        if unit is None:
            raise _unknown("unit", code)
    code = request.GET.get("category", "")
    if code:
        category = Category.objects.filter(code=code).first()
        if category is None:
            raise _unknown("category", code)
    code = request.GET.get("district", "")
    if code == "none":
        district_id = NO_UNIT
    elif code:
        district = Unit.objects.filter(code=code, kind=UnitKind.DISTRICT).first()
        if district is None:
            raise _unknown("district", code)
        district_id = district.id
    return stats_filters(user=request.user, unit=unit, category=category, district_id=district_id,
                         unit_only=request.GET.get("own") == "1")


def _period(request) -> Period:
    return parse_period(request.GET.get("start"), request.GET.get("end"))


def _asked(request, period_of) -> tuple[Period, Filters, str]:
    """Return the period, the filters and the download format the query asks for; InvalidInput if they make no sense."""
    period = period_of(request)
    filters = _filters(request)
    export = request.GET.get("export", "")
    if export:
        check_export(export)
    return period, filters, export


def _unknown(field: str, code: str) -> TicketError:
    message = _("Nothing here has the code %(code)s.") % {"code": code}
    return InvalidInput(message, fields={field: [message]})


def _choices(request, period: Period | None = None) -> dict:
    """The filter form's choices (the units the user may see, the categories, the districts) and values."""
    scope = staff_scope(request.user)
    units = Unit.objects.exclude(kind=UnitKind.CENTRE).order_by("path")
    if not scope.sees_all:
        units = units.filter(id__in=scope.visible_unit_ids)
    return {
        "units": [(u.code, "\u3000" * max(u.path.strip("/").count("/") - 1, 0) + u.name) for u in units],
        "categories": Category.objects.select_related("parent").order_by("parent__name", "name"),
        "districts": Unit.objects.filter(kind=UnitKind.DISTRICT).order_by("name"),
        "chosen": {
            **{name: request.GET.get(name, "") for name in FILTER_PARAMS},
            **({"start": period.start.isoformat(), "end": period.end.isoformat()} if period else {}),
        },
    }


def _base(request) -> dict[str, str]:
    return {name: request.GET[name] for name in FILTER_PARAMS if request.GET.get(name)}


def _link(table: Table, base: dict[str, str]) -> Table:
    """Point each figure of the table to the tickets behind it, under the page's filters and the row's."""
    url = reverse("stats:tickets")
    measures: dict[tuple[str, ...], str] = {}

    def measure(counters: tuple[str, ...]) -> str:
        if counters not in measures:
            measures[counters] = urlencode({"measure": ",".join(counters)})
        return measures[counters]

    for row in table.rows:
        query = urlencode({**base, **row.scope})
        prefix = f"{url}?{query}&" if query else f"{url}?"
        for cell in row.cells:
            if cell.drill:
                cell.href = prefix + measure(cell.drill)
            if cell.drill_all:
                cell.href_all = prefix + measure(cell.drill_all)
    return table


def _exports(request) -> dict[str, str]:
    """Return the addresses of the CSV and Excel downloads of a table, keyed by format (`?table=` added by the page)."""
    query = request.GET.copy()
    query.pop("export", None)
    query.pop("page", None)
    return {fmt: f"?{urlencode({**query.dict(), 'export': fmt})}" for fmt in ("csv", "xlsx")}


def _error_page(request, template: str, title: str, error: TicketError, **extra):
    return render(request, template, page_context(
        request, title=title, error=error.detail, fresh_at=stats_fresh_at(),
        **_choices(request), **extra,
    ), status=error.status)


@_staff_with_tickets
@require_GET
@never_cache
def stats_dashboard(request):
    """The figures of a period: the rates with their formulas, and tables by unit, category and district."""
    title = _("Statistics")
    try:
        period, filters, export = _asked(request, _period)
    except TicketError as error:
        return _error_page(request, "desk/stats.html", title, error)
    # The tables by unit and by district add up the same rows: read once, for both.
    unit_sums = functools.cache(lambda: stats_unit_sums(period=period, filters=filters))
    builders = {
        "units": lambda: units_table(user=request.user, period=period, filters=filters, unit_sums=unit_sums()),
        "categories": lambda: categories_table(period=period, filters=filters),
        "districts": lambda: districts_table(period=period, filters=filters, unit_sums=unit_sums()),
    }
    if export:
        table = builders.get(request.GET.get("table", ""), builders["units"])()
        return export_response(table, fmt=export, filename=f"minhu-{table.name}-{period.start}-{period.end}")
    tables = {name: build() for name, build in builders.items()}
    totals = stats_sums(period=period, filters=filters)[None]
    at_risk = at_risk_by_unit(user=request.user)
    in_scope = filters.unit_ids
    if at_risk is not None:
        yellow = sum(y for unit_id, (y, _r) in at_risk.items() if in_scope is None or unit_id in in_scope)
        red = sum(r for unit_id, (_y, r) in at_risk.items() if in_scope is None or unit_id in in_scope)
        at_risk = (yellow, red)
    totals_table = _link(Table("totals", "", [], [Row([
        Cell(None, "", drill=rate.numerator, drill_all=rate.denominator) for rate in rates.RATES
    ])]), _base(request))
    return render(request, "desk/stats.html", page_context(
        request, title=title, period=period, period_label=period_label(period), fresh_at=stats_fresh_at(),
        summary=list(zip(summary(totals), totals_table.rows[0].cells, strict=True)),
        totals=totals, average_hours=hours(totals.average_hours), p90_hours=hours(totals.p90_hours),
        handling_formula=rates.HANDLING_FORMULA, bounces_formula=rates.BOUNCES_FORMULA,
        at_risk=at_risk, tables=[_link(t, _base(request)) for t in tables.values()], exports=_exports(request),
        **_choices(request, period),
    ))


@_staff_with_tickets
@require_GET
@never_cache
def stats_tickets(request):
    """The tickets behind one figure of a period (a drill-down), newest first; CSV or Excel too."""
    title = _("Tickets behind a figure")
    try:
        period, filters, export = _asked(request, _period)
        counters = parse_counters(request.GET.get("measure"))
        facts = stats_facts(user=request.user, period=period, filters=filters, counters=counters)
        if export and facts[:EXPORT_MAX_ROWS + 1].count() > EXPORT_MAX_ROWS:
            raise InvalidInput(_(
                "More than %(limit)s tickets: an export holds at most %(limit)s rows. Choose a shorter period "
                "or narrow the unit or the category."
            ) % {"limit": f"{EXPORT_MAX_ROWS:,}"})
    except TicketError as error:
        return _error_page(request, "desk/stats_tickets.html", title, error)
    measures = dict(Measure.choices)
    if export:
        table = _facts_table(list(facts[:EXPORT_MAX_ROWS]), measures)
        return export_response(table, fmt=export, filename=f"minhu-tickets-{period.start}-{period.end}")
    paginator = Paginator(facts[:DRILL_MAX_ROWS], DRILL_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "desk/stats_tickets.html", page_context(
        request, title=title, period=period, period_label=period_label(period), fresh_at=stats_fresh_at(),
        page=page, table=_facts_table(list(page.object_list), measures),
        figure=", ".join(str(_counter_label(name)) for name in counters), limit=DRILL_MAX_ROWS,
        query=query.urlencode(), exports=_exports(request), **_choices(request, period),
    ))


def _counter_label(name: str) -> str:
    measure, condition = DRILLS[name]
    label = dict(Measure.choices)[measure]
    if condition is not None:
        return _("%(figure)s, after a return or a reopen") % {"figure": label}
    return label


def _facts_table(facts, measures) -> Table:
    rows = []
    for fact in facts:
        ticket = fact.ticket
        value = round(fact.value / 3600, 1) if fact.measure == Measure.HANDLED else fact.value
        rows.append(Row([
            Cell(fact.day.isoformat(), fact.day.isoformat()),
            Cell(str(measures[fact.measure]), str(measures[fact.measure])),
            Cell(ticket.number, ticket.number, href=reverse("admin:tickets_ticket_change", args=[ticket.pk])),
            Cell(ticket.category.name, ticket.category.name),
            Cell(ticket.unit.name if ticket.unit else "", ticket.unit.name if ticket.unit else "—"),
            Cell(ticket.get_state_display(), ticket.get_state_display()),
            Cell(value, str(value) if fact.measure in (Measure.HANDLED, Measure.KEPT, Measure.CLOSED) else ""),
        ]))
    columns = [Column("day", _("Day counted")), Column("figure", _("Figure")), Column("number", _("Number")),
               Column("category", _("Category")), Column("unit", _("Unit now")), Column("state", _("State now")),
               Column("value", _("Hours / returns / reopens"))]
    return Table("tickets", _("Tickets"), columns, rows)


@_staff_with_tickets
@require_GET
@never_cache
def stats_ranking(request):
    """The units ranked by their month's rates; CSV or Excel too."""
    title = _("Monthly ranking of units")
    try:
        period, filters, export = _asked(request, lambda request: month_period(request.GET.get("month")))
    except TicketError as error:
        return _error_page(request, "desk/stats_ranking.html", title, error)
    table = ranking_table(period=period, filters=filters)
    if export:
        return export_response(table, fmt=export, filename=f"minhu-ranking-{period.start:%Y-%m}")
    base = {**_base(request), "start": period.start.isoformat(), "end": period.end.isoformat()}
    return render(request, "desk/stats_ranking.html", page_context(
        request, title=title, period=period, month=f"{period.start:%Y-%m}", fresh_at=stats_fresh_at(),
        table=_link(table, base), exports=_exports(request),
        formulas=[rates.RESPONSE, rates.COMPLETION, rates.SOLUTION, rates.SATISFACTION], **_choices(request),
    ))

