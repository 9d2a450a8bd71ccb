"""The citizens' statistics page (/stats/): no login, counts and rates only, zh-hans first."""

import time_machine
from django.test import Client

from feedback.stats.rollup import stats_catch_up
from tests.feedback.stats_helpers import HANDLED_STEPS, at, live


def _page(language: str = "zh-hans"):
    with time_machine.travel(at(24 * 3), tick=False):
        return Client(HTTP_ACCEPT_LANGUAGE=language).get("/stats/")


def test_anyone_sees_the_figures_in_chinese_without_any_personal_data(city):
    ticket = live(city, [*HANDLED_STEPS, (4, "rate:satisfied")])
    live(city, [(0, "dispatch:street"), (5, "claim")])
    stats_catch_up()

    page = _page()

    text = page.content.decode()
    assert page.status_code == 200
    assert '<html lang="zh-hans">' in text and "满意率" in text
    assert "停水" in text and "武昌区" in text and "水务集团" in text
    for private in (ticket.number, ticket.description, ticket.reporter_phone, "已处理"):
        assert private not in text
    assert page.context["hottest"] == [{"category": "供水 › 停水", "count": 2, "before": 0}]
    units = {row["unit"]: row for row in page.context["per_unit"]}
    assert units["水务集团"]["response"] == 100.0 and units["中南路街道"]["response"] == 0.0
    assert "/static/stats/chart.umd.min.js" in text and "//cdn" not in text


def test_the_page_reads_in_english_too(city):
    page = _page("en")

    assert '<html lang="en">' in page.content.decode()
    assert "Hotline figures" in page.content.decode()


def test_with_nothing_counted_the_page_says_so(db):
    page = _page()

    assert page.status_code == 200
    assert page.context["fresh_at"] is None and page.context["hottest"] == [] and page.context["per_unit"] == []
