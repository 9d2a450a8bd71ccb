"""The statistics' tables, as the pages show them and the exports write them.

A table is columns and rows of cells; a cell keeps its raw value (for CSV and Excel),
the text shown, and the drill-down that lists the tickets behind it.
"""

import functools
import html
from dataclasses import dataclass, field

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import numberformat
from django.utils.formats import get_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

from departments.models import Category, Unit, UnitKind
from departments.selectors import staff_scope
from feedback.models import COUNTERS, NO_UNIT
from feedback.stats import rates
from feedback.stats.selectors import (
    BY_CATEGORY,
    BY_DISTRICT,
    BY_UNIT,
    Figures,
    Filters,
    Period,
    at_risk_counts,
    regroup,
    stats_sums,
    stats_unit_sums,
)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    # The counters a count column's drill-down lists; a rate's come from the rate.
    counters: tuple[str, ...] = ()
    rate: rates.Rate | None = None
    is_label: bool = False


@dataclass
class Cell:
    value: object
    text: str
    # The counters whose tickets a click lists (numerator, and denominator for a rate).
    drill: tuple[str, ...] = ()
    drill_all: tuple[str, ...] = ()
    title: str = ""
    # A rate's numerator and denominator, each a link to its tickets.
    parts: tuple[int, int] | None = None
    # The drill-downs' addresses, set by the page that shows the table.
    href: str = ""
    href_all: str = ""


@dataclass
class Row:
    cells: list[Cell]
    depth: int = 0
    # The filters a drill-down from this row adds (unit, category, district codes or ids).
    scope: dict = field(default_factory=dict)

    @property
    def html(self) -> SafeString:
        """The row's cells as HTML: the first a row heading, a rate with its parts, each figure a link.

        Written here rather than in the template: the city's dashboard has some 2,000
        cells, and the template language took 100 ms to loop over them.
        """
        out = []
        for index, cell in enumerate(self.cells):
            text = html.escape(str(cell.text))
            if index == 0:
                out.append(f'<th scope="row" class="stats-depth-{int(self.depth)}">{text}</th>')
                continue
            href = html.escape(cell.href)
            title = f' title="{html.escape(cell.title)}"' if cell.title else ""
            shown = f'<a href="{href}"{title}>{text}</a>' if cell.href else text
            if cell.parts:
                numerator, denominator = cell.parts
                shown += (f' <span class="stats-parts">(<a href="{href}">{int(numerator)}</a>/'
                          f'<a href="{html.escape(cell.href_all)}">{int(denominator)}</a>)</span>')
            out.append(f"<td>{shown}</td>")
        return mark_safe("".join(out))


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[Row]
    note: str = ""


class Numbers:
    """Numbers written as django.utils.formats.number_format writes them in one language, faster.

    A city's dashboard writes some 2,000 numbers; looking up the language and its three
    formats for each was a fifth of the page. The common cases (a count; a rate or hours
    without grouping) are written here, exactly as Django would, including its cutting
    of decimals rather than rounding; the rest goes to Django.
    """

    def __init__(self, language: str | None):
        self.decimal = get_format("DECIMAL_SEPARATOR", language)
        self.grouping = get_format("NUMBER_GROUPING", language)
        self.thousand = get_format("THOUSAND_SEPARATOR", language)

    @staticmethod
    def active() -> "Numbers":
        return _numbers(get_language())

    def format(self, value: float, decimal_pos: int | None = None, *, force_grouping: bool = False) -> str:
        grouped = force_grouping or settings.USE_THOUSAND_SEPARATOR
        if type(value) is int and decimal_pos is None:
            if not grouped:
                return str(value)
            if self.grouping == 3 or not self.thousand:
                return f"{value:,}".replace(",", self.thousand)
        elif type(value) is float and not grouped:
            text = str(value)
            if "e" not in text and "n" not in text:  # not 1e-07, inf or nan
                whole, _point, fraction = text.partition(".")
                if decimal_pos is None:
                    return whole + self.decimal + fraction
                if decimal_pos:
                    return whole + self.decimal + fraction[:decimal_pos].ljust(decimal_pos, "0")
                return whole
        return numberformat.format(value, self.decimal, decimal_pos, self.grouping, self.thousand,
                                   force_grouping=force_grouping)

    def count(self, value: int) -> str:
        return self.format(value, force_grouping=True)

    def percent(self, value: float | None) -> str:
        return "—" if value is None else f"{self.format(value * 100, 1)} %"

    def hours(self, value: float | None) -> str:
        return "—" if value is None else self.format(value, 1)


@functools.cache
def _numbers(language: str | None) -> Numbers:
    return Numbers(language)


@receiver(setting_changed)
def _forget_numbers(**kwargs) -> None:
    _numbers.cache_clear()


def percent(value: float | None) -> str:
    return Numbers.active().percent(value)


def hours(value: float | None) -> str:
    return Numbers.active().hours(value)


def _count(figures: Figures, name: str, numbers: Numbers) -> Cell:
    value = figures.counters[name]
    return Cell(value, numbers.count(value), drill=(name,))


def _rate(figures: Figures, rate: rates.Rate, numbers: Numbers) -> Cell:
    numerator, denominator = rate.parts(figures.counters)
    value = rate.of(figures.counters)
    return Cell(
        None if value is None else round(value * 100, 2), numbers.percent(value), drill=rate.numerator,
        drill_all=rate.denominator, title=f"{numerator} / {denominator}", parts=(numerator, denominator),
    )


def figure_columns(*, with_reported: bool = False, with_risk: bool = False) -> list[Column]:
    columns = [Column("reported", gettext("Reported"), ("reported",))] if with_reported else []
    columns += [Column("received", gettext("Received"), ("received",))]
    columns += [Column(rate.key, str(rate.name), rate=rate) for rate in rates.RATES]
    columns += [
        Column("returned", gettext("Returns (退单)"), ("returned",)),
        Column("bounces", gettext("Bounces per kept ticket"), ("kept_bounced",)),
        Column("average_hours", gettext("Average handling (hours)"), ("handled",)),
        Column("p90_hours", gettext("p90 handling (hours)"), ("handled",)),
    ]
    if with_risk:
        columns += [Column("at_risk", gettext("At risk now (yellow / red)"))]
    return columns


def figure_cells(figures: Figures, columns: list[Column]) -> list[Cell]:
    numbers = Numbers.active()
    cells = []
    for column in columns:
        if column.is_label:
            continue
        if column.rate is not None:
            cells.append(_rate(figures, column.rate, numbers))
        elif column.key == "bounces":
            average = figures.average_bounces
            cells.append(Cell(None if average is None else round(average, 3),
                              "—" if average is None else numbers.format(average, 2), drill=column.counters,
                              title=f"{figures.counters['bounces']} / {figures.counters['kept']}"))
        elif column.key == "average_hours":
            cells.append(Cell(_round(figures.average_hours), numbers.hours(figures.average_hours),
                              drill=column.counters))
        elif column.key == "p90_hours":
            cells.append(Cell(_round(figures.p90_hours), numbers.hours(figures.p90_hours), drill=column.counters))
        elif column.key == "at_risk":
            if figures.at_risk is None:
                cells.append(Cell(None, "—", title=gettext("Not counted yet")))
            else:
                yellow, red = figures.at_risk
                cells.append(Cell(f"{yellow}/{red}", f"{yellow} / {red}"))
        else:
            cells.append(_count(figures, column.key, numbers))
    return cells


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# -- the tables of the staff dashboard -----------------------------------------------------------

def at_risk_by_unit(*, user) -> dict[int, tuple[int, int]] | None:
    """Return the tickets at risk now per unit that the user may see, (yellow, red); None when not counted yet.

    The city's counts come from at_risk_counts (kept fresh by a periodic task); a user
    sees the units of their scope, which is all that ticket_visible_to narrows by.
    """
    scope = staff_scope(user)
    counts = at_risk_counts()
    if counts is None or scope.sees_all:
        return counts
    return {unit_id: pair for unit_id, pair in counts.items() if unit_id in scope.visible_unit_ids}


def units_table(*, user, period: Period, filters: Filters, unit_sums: dict | None = None) -> Table:
    """Each unit the user may see, with its whole subtree's figures (a district with its streets).

    `unit_sums`: stats_unit_sums of the period and filters, when the page has read them already.
    """
    if unit_sums is None:
        unit_sums = stats_unit_sums(period=period, filters=filters)
    own = regroup(unit_sums, BY_UNIT)
    at_risk = at_risk_by_unit(user=user)
    shown_ids = filters.unit_ids
    units = [u for u in Unit.objects.exclude(kind=UnitKind.CENTRE).order_by("path")
             if shown_ids is None or u.id in shown_ids]
    # Each unit shown adds its own figures to its row and to the row of each ancestor shown.
    counted = at_risk is not None
    totals = {unit.path: Figures(key=unit.id, counters=dict.fromkeys(COUNTERS, 0), at_risk=(0, 0) if counted else None)
              for unit in units}
    for unit in units:
        figures, (yellow, red) = own.get(unit.id), (at_risk or {}).get(unit.id, (0, 0))
        if figures is None and not (yellow or red):
            continue
        codes = unit.path.strip("/").split("/")
        for depth in range(1, len(codes) + 1):
            total = totals.get("/" + "/".join(codes[:depth]) + "/")
            if total is None:
                continue
            if figures is not None:
                total.add(figures)
            if counted:
                total.at_risk = (total.at_risk[0] + yellow, total.at_risk[1] + red)
    rows = []
    columns = figure_columns(with_risk=True)
    for unit in units:
        total = totals[unit.path]
        if not any(total.counters.values()) and not any(total.at_risk or ()):
            continue  # 121 units: a row only for those with something to show
        depth = unit.path.strip("/").count("/") - 1
        rows.append(Row([Cell(unit.name, unit.name), *figure_cells(total, columns)], depth=max(depth, 0),
                        scope={"unit": unit.code}))
    return Table("units", gettext("By unit (each with the units below it)"),
                 [Column("unit", gettext("Unit"), is_label=True), *columns], rows)


def categories_table(*, period: Period, filters: Filters) -> Table:
    """Each category group and its categories."""
    sums = stats_sums(period=period, filters=filters, by=BY_CATEGORY)
    columns = figure_columns(with_reported=filters.sees_all)
    categories = list(Category.objects.select_related("parent").order_by("parent__name", "name"))
    children: dict[int | None, list[Category]] = {}
    for category in categories:
        children.setdefault(category.parent_id, []).append(category)
    rows = []
    for group in children.get(None, []):
        members = children.get(group.id, [])
        total = Figures(key=group.id, counters=dict.fromkeys(COUNTERS, 0))
        for member in [group, *members]:
            if member.id in sums:
                total.add(sums[member.id])
        if not any(total.counters.values()):
            continue
        rows.append(Row([Cell(group.name, group.name), *figure_cells(total, columns)], scope={"category": group.code}))
        for member in members:
            if member.id in sums and any(sums[member.id].counters.values()):
                rows.append(Row([Cell(member.name, member.name), *figure_cells(sums[member.id], columns)],
                                depth=1, scope={"category": member.code}))
    return Table("categories", gettext("By category"),
                 [Column("category", gettext("Category"), is_label=True), *columns], rows)


def districts_table(*, period: Period, filters: Filters, unit_sums: dict | None = None) -> Table:
    """Each district (its own units and everything below them), and the units outside any district.

    `unit_sums`: stats_unit_sums of the period and filters, when the page has read them already.
    """
    if unit_sums is None:
        unit_sums = stats_unit_sums(period=period, filters=filters)
    sums = regroup(unit_sums, BY_DISTRICT)
    columns = figure_columns()
    rows = []
    for district in Unit.objects.filter(kind=UnitKind.DISTRICT).order_by("name"):
        if district.id in sums:
            rows.append(Row([Cell(district.name, district.name), *figure_cells(sums[district.id], columns)],
                            scope={"district": district.code}))
    if NO_UNIT in sums:
        label = gettext("City-wide units (bureaus, utilities)")
        rows.append(Row([Cell(label, label), *figure_cells(sums[NO_UNIT], columns)], scope={"district": "none"}))
    return Table("districts", gettext("By district"),
                 [Column("district", gettext("District"), is_label=True), *columns], rows)


def ranking_table(*, period: Period, filters: Filters) -> Table:
    """The units ranked for one month by their own figures (not their subtree's)."""
    sums = stats_sums(period=period, filters=filters, by=BY_UNIT)
    ranked = [rates.RESPONSE, rates.COMPLETION, rates.SOLUTION, rates.SATISFACTION]
    units = {u.id: u for u in Unit.objects.exclude(kind=UnitKind.CENTRE)}
    scored = []
    for unit_id, figures in sums.items():
        if unit_id not in units:
            continue
        defined = [value for value in (rate.of(figures.counters) for rate in ranked) if value is not None]
        score = sum(defined) / len(defined) if defined else None
        scored.append((score, figures.counters["received"], units[unit_id], figures))
    scored.sort(key=lambda item: (item[0] is None, -(item[0] or 0), -item[1], item[2].path))
    columns = [Column("received", gettext("Received"), ("received",))]
    columns += [Column(rate.key, str(rate.name), rate=rate) for rate in ranked]
    rows = []
    for position, (score, _received, unit, figures) in enumerate(scored, 1):
        rank = position if score is not None else None
        rows.append(Row([
            Cell(rank, str(rank) if rank else "—"), Cell(unit.name, unit.name),
            Cell(None if score is None else round(score * 100, 2), percent(score)),
            *figure_cells(figures, columns),
        ], scope={"unit": unit.code, "own": "1"}))
    return Table(
        "ranking", gettext("Ranking of units"),
        [Column("rank", gettext("Rank"), is_label=True), Column("unit", gettext("Unit"), is_label=True),
         Column("score", gettext("Score"), is_label=True), *columns],
        rows,
        note=gettext("Score: the average of the unit's response, completion, solution and satisfaction rates "
                     "that are defined this month (each counts equally); a unit with none is not ranked. "
                     "Ties go to the unit that received more. A unit's own figures, not its subtree's."),
    )


def summary(figures: Figures) -> list[dict]:
    """The period's rates for the page's head: value, parts and formula of each."""
    return [
        {"rate": rate, "value": percent(rate.of(figures.counters)), "parts": rate.parts(figures.counters)}
        for rate in rates.RATES
    ]


def period_label(period: Period) -> str:
    return f"{period.start:%Y-%m-%d} – {period.end:%Y-%m-%d}"
