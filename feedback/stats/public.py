"""The citizens' statistics page, /stats/: what the hotline receives and how well it answers.

No login. Counts by category, district and unit, and rates, only: nothing a citizen
wrote, nobody's name or number. The figures are the rollups' (feedback.stats.selectors),
cached for a minute: the page may be opened by many at once, and the rollups move
every 15 seconds anyway.
"""

from django.core.cache import cache
from django.shortcuts import render
from django.views.decorators.http import require_GET

from feedback.stats import rates
from feedback.stats.rollup import stats_fresh_at
from feedback.stats.selectors import public_figures

CACHE_SECONDS = 60


@require_GET
def public_stats(request):
    """Show the city's figures as charts, each with the same figures as a table."""
    figures = cache.get("stats-public")
    if figures is None:
        figures = {**public_figures(), "fresh_at": stats_fresh_at()}
        cache.set("stats-public", figures, CACHE_SECONDS)
    chart_data = {
        "weeks": figures["weeks"],
        "byCategory": [{"label": name, "data": data} for name, data in figures["by_category"]],
        "byDistrict": [{"label": name, "data": data} for name, data in figures["by_district"]],
        "rates": [{"label": str(rate.name), "data": figures["city_rates"][rate.key]} for rate in rates.PUBLIC_RATES],
    }
    return render(request, "citizen/stats.html", {
        **figures, "chart_data": chart_data, "rates": rates.PUBLIC_RATES,
        "rate_weeks": [
            (week, [figures["city_rates"][rate.key][index] for rate in rates.PUBLIC_RATES])
            for index, week in enumerate(figures["weeks"])
        ],
    })
