"""The staff's statistics pages (/desk/stats/): scope, bad periods, drill-down, ranking, exports."""

import io

import pytest
from openpyxl import load_workbook

from feedback.stats.rollup import stats_catch_up
from feedback.stats.selectors import EXPORT_MAX_ROWS
from tests.feedback.stats_helpers import HANDLED_STEPS, live

NOVEMBER = {"start": "2026-11-01", "end": "2026-11-30"}


@pytest.fixture
def counted(city):
    live(city, [*HANDLED_STEPS, (4, "rate:satisfied")])  # the bureau: on time, 满意
    live(city, [(0, "dispatch:street"), (5, "claim"), (6, "resolve"), (7, "verify"), (8, "rate:unsatisfied")])
    live(city, [(0.5, "reject")], accepted=False)
    stats_catch_up()
    return city


def test_the_centre_sees_the_citys_rates_with_their_formulas_and_freshness(counted, browse):
    page = browse(counted.dispatcher).get("/desk/stats/", NOVEMBER)

    assert page.status_code == 200
    text = page.content.decode()
    assert "Figures as of" in text
    for name in ("响应率", "办结率", "解决率", "满意率", "重办率"):
        assert name in text
    assert "signed for (签收) by the claim deadline" in text  # the formula, on the page
    units = page.context["tables"][0]
    rows = {row.cells[0].value: row for row in units.rows}
    assert rows["武昌区"].cells[1].value == 1 and rows["中南路街道"].depth > rows["武昌区"].depth
    assert rows["水务集团"].cells[1].value == 1


def test_a_supervisor_reads_only_the_subtree_and_is_refused_another_unit(counted, browse):
    client = browse(counted.supervisor)

    page = client.get("/desk/stats/", NOVEMBER)
    names = {row.cells[0].value for row in page.context["tables"][0].rows}
    refused = client.get("/desk/stats/", {**NOVEMBER, "unit": "water-group"})

    assert names == {"武昌区", "中南路街道"}
    assert page.context["totals"].counters["reported"] == 0  # the centre's own figure
    assert page.context["totals"].counters["received"] == 1
    assert refused.status_code == 400 and "may not read the figures" in refused.content.decode()


def test_someone_without_a_unit_gets_no_statistics(counted, browse):
    assert browse(counted.outsider).get("/desk/stats/").status_code == 403


@pytest.mark.parametrize("period, message", [
    ({"start": "2026-11-30", "end": "2026-11-01"}, "ends before it starts"),
    ({"start": "2001-01-01", "end": "2026-11-30"}, "at most 731 days"),
    ({"start": "2026-13-01", "end": "2026-11-30"}, "YYYY-MM-DD"),
    ({"start": "9999-12-01", "end": "9999-12-31"}, "between 2000-01-01 and 2099-12-31"),
])
def test_an_inverted_too_long_or_malformed_period_is_refused_plainly(counted, browse, period, message):
    page = browse(counted.dispatcher).get("/desk/stats/", period)

    assert page.status_code == 400
    assert message in page.content.decode()
    assert "tables" not in page.context


def test_a_figure_drills_down_to_the_tickets_behind_it(counted, browse):
    client = browse(counted.dispatcher)
    page = client.get("/desk/stats/", NOVEMBER)
    satisfaction = next(cell for item, cell in page.context["summary"] if item["rate"].key == "satisfaction")

    numerator = client.get(satisfaction.href)
    everyone = client.get(satisfaction.href_all)

    assert numerator.status_code == everyone.status_code == 200
    assert len(numerator.context["table"].rows) == 1 and len(everyone.context["table"].rows) == 2
    assert numerator.context["table"].rows[0].cells[3].value == counted.category.name


def test_a_supervisors_drill_down_lists_only_tickets_it_may_see(counted, browse):
    page = browse(counted.supervisor).get("/desk/stats/tickets/", {**NOVEMBER, "measure": "received"})

    assert [row.cells[4].value for row in page.context["table"].rows] == ["中南路街道"]


def test_a_drill_down_of_an_unknown_figure_is_refused(counted, browse):
    assert browse(counted.dispatcher).get("/desk/stats/tickets/", {"measure": "nonsense"}).status_code == 400


def test_each_table_downloads_as_csv_and_excel(counted, browse):
    client = browse(counted.dispatcher)

    csv = client.get("/desk/stats/", {**NOVEMBER, "export": "csv", "table": "categories"})
    xlsx = client.get("/desk/stats/", {**NOVEMBER, "export": "xlsx", "table": "units"})

    assert csv["Content-Type"].startswith("text/csv") and "attachment" in csv["Content-Disposition"]
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Category,Reported,Received,响应率 response rate (%)")
    assert lines[1].startswith("供水,3,2,50.0,100.0,50.0,50.0,0.0,0.0,0")  # the street signed for late
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert [cell.value for cell in sheet[1]][:2] == ["Unit", "Received"]
    assert {row[0].value for row in sheet.iter_rows(min_row=2)} >= {"武昌区", "水务集团"}


def test_an_export_over_the_row_limit_is_refused_with_the_limit(counted, browse, monkeypatch):
    monkeypatch.setattr("feedback.stats.desk.EXPORT_MAX_ROWS", 1)

    page = browse(counted.dispatcher).get("/desk/stats/tickets/", {**NOVEMBER, "measure": "reported", "export": "csv"})

    assert page.status_code == 400 and "at most 1 rows" in page.content.decode()
    assert EXPORT_MAX_ROWS == 10_000


def test_the_monthly_ranking_puts_the_unit_with_better_rates_first(counted, browse):
    page = browse(counted.dispatcher).get("/desk/stats/ranking/", {"month": "2026-11"})
    xlsx = browse(counted.dispatcher).get("/desk/stats/ranking/", {"month": "2026-11", "export": "xlsx"})

    ranked = [(row.cells[0].value, row.cells[1].value) for row in page.context["table"].rows]
    assert ranked == [(1, "水务集团"), (2, "中南路街道")]
    assert xlsx.status_code == 200
    assert browse(counted.dispatcher).get("/desk/stats/ranking/", {"month": "2026-19"}).status_code == 400


def test_the_dashboard_with_nothing_counted_says_so(city, browse):
    page = browse(city.dispatcher).get("/desk/stats/")

    assert page.status_code == 200
    assert "have not been counted yet" in page.content.decode()


def test_tickets_at_risk_are_counted_by_the_periodic_task_and_shown_within_each_scope(city, browse):
    import datetime as dt

    from django.utils import timezone

    from feedback.tasks import stats_at_risk_task
    from tests.factories import make_ticket
    from tickets.models import State, Ticket

    now = timezone.now()
    yellow = make_ticket(city, State.DISPATCHED, unit=city.street)
    red = make_ticket(city, State.IN_PROGRESS, unit=city.bureau)
    calm = make_ticket(city, State.DISPATCHED, unit=city.bureau)
    Ticket.objects.filter(id=yellow.id).update(warn_at=now - dt.timedelta(hours=1), due_at=now + dt.timedelta(hours=1))
    Ticket.objects.filter(id=red.id).update(warn_at=now - dt.timedelta(hours=3), due_at=now - dt.timedelta(hours=1))
    Ticket.objects.filter(id=calm.id).update(warn_at=now + dt.timedelta(hours=1), due_at=now + dt.timedelta(hours=2))

    assert stats_at_risk_task() == 2
    centre = browse(city.dispatcher).get("/desk/stats/")
    supervisor = browse(city.supervisor).get("/desk/stats/")

    assert centre.context["at_risk"] == (1, 1)
    rows = {row.cells[0].value: row.cells[-1].value for row in centre.context["tables"][0].rows}
    assert rows[city.street.name] == "1/0" and rows[city.district.name] == "1/0" and rows[city.bureau.name] == "0/1"
    assert supervisor.context["at_risk"] == (1, 0)  # the district's subtree: the street's ticket only

    # Counted again by the task, not by each page: the pages show the count of its last run.
    Ticket.objects.filter(id=calm.id).update(warn_at=now - dt.timedelta(minutes=1))
    assert browse(city.dispatcher).get("/desk/stats/").context["at_risk"] == (1, 1)
    stats_at_risk_task()
    assert browse(city.dispatcher).get("/desk/stats/").context["at_risk"] == (2, 1)


def test_with_no_count_of_the_tickets_at_risk_kept_the_page_says_so_and_counts_nothing(city, browse):
    import datetime as dt

    from django.core.cache import cache
    from django.utils import timezone

    from feedback.stats.rollup import stats_catch_up
    from feedback.stats.selectors import AT_RISK_KEY
    from tests.factories import make_ticket
    from tickets.models import State, Ticket

    late = make_ticket(city, State.DISPATCHED, unit=city.street)
    now = timezone.now()
    Ticket.objects.filter(id=late.id).update(warn_at=now - dt.timedelta(hours=3), due_at=now - dt.timedelta(hours=1))
    stats_catch_up()  # the street's row: the dispatch it received
    cache.delete(AT_RISK_KEY)  # the periodic task has not run (stopped, or a cold cache)

    page = browse(city.dispatcher).get("/desk/stats/")

    assert page.status_code == 200
    assert page.context["at_risk"] is None
    assert "not counted yet" in page.content.decode()
    rows = {row.cells[0].value: row.cells[-1] for row in page.context["tables"][0].rows}
    assert rows[city.street.name].text == "—"
    assert cache.get(AT_RISK_KEY) is None  # the page left the counting to the task
