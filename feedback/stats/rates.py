"""The rates (三率 and more), each a numerator and a denominator of rollup counters.

A rate is defined over the facts counted in a period (feedback.stats.facts): each
counter counts what was decided on a day of the period, so numerator and denominator
always come from the same decisions. A rate with nothing to divide by is undefined
(shown as "—"), never 0 % or 100 %.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from feedback.models import BUCKET_HOURS


@dataclass(frozen=True)
class Rate:
    key: str
    name: Promise
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    formula: Promise

    def parts(self, counters: Mapping[str, int]) -> tuple[int, int]:
        return sum(counters[c] for c in self.numerator), sum(counters[c] for c in self.denominator)

    def of(self, counters: Mapping[str, int]) -> float | None:
        """Return the rate as a fraction (0 to 1), or None when its denominator is 0."""
        numerator, denominator = self.parts(counters)
        return numerator / denominator if denominator else None


RESPONSE = Rate(
    "response", _("响应率 response rate"),
    ("claimed_on_time",), ("claimed_on_time", "claimed_late"),
    _("rounds signed for (签收) by the claim deadline ÷ rounds whose claim was decided: signed for, "
      "on time or late, or the claim deadline passed unsigned. A round is a dispatch or a reopen; one "
      "returned unsigned before its deadline is not counted."),
)
COMPLETION = Rate(
    "completion", _("办结率 completion rate"),
    ("resolved_on_time",), ("resolved_on_time", "resolved_late"),
    _("rounds whose accepted reply was submitted by the resolve deadline (extensions and pauses "
      "included) ÷ rounds whose reply was accepted by the centre or whose resolve deadline passed first."),
)
SOLUTION = Rate(
    "solution", _("解决率 solution rate"),
    ("closed",), ("closed", "reopened"),
    _("rating rounds the citizen did not send back as unsolved (rated satisfied or basically satisfied, "
      "or not rated in time) ÷ rating rounds ended (those, plus every 不满意 that reopened the ticket)."),
)
SATISFACTION = Rate(
    "satisfaction", _("满意率 satisfaction rate"),
    ("satisfied", "basically_satisfied"), ("satisfied", "basically_satisfied", "reopened"),
    _("ratings 满意 or 基本满意 ÷ all ratings given (满意, 基本满意, 不满意); rounds closed without a "
      "rating are not counted."),
)
REOPEN = Rate(
    "reopen", _("重办率 reopen rate"),
    ("closed_reopened",), ("closed",),
    _("tickets closed that had been reopened (重办) at least once ÷ tickets closed."),
)
RETURN = Rate(
    "return", _("退单率 return rate"),
    ("returned",), ("received",),
    _("tickets the unit returned (退单) ÷ tickets dispatched to it."),
)

# The three rates the city publishes (三率), and all the rates of the staff dashboard.
PUBLIC_RATES = (RESPONSE, SOLUTION, SATISFACTION)
RATES = (RESPONSE, COMPLETION, SOLUTION, SATISFACTION, REOPEN, RETURN)

HANDLING_FORMULA = _(
    "From the start of a round (dispatch or reopen) to the submission of the reply the centre accepted, "
    "in calendar hours, pauses included; counted on the day of the verify. p90 is read from a histogram "
    "of hour buckets, interpolated within its bucket."
)
BOUNCES_FORMULA = _(
    "Returns (退单) a ticket had before the unit that kept it replied and the centre accepted it, "
    "averaged over the tickets kept; counted for the unit that kept it."
)


def average_hours(counters: Mapping[str, int]) -> float | None:
    """Return the average handling time in hours, or None with nothing handled."""
    return counters["handling_seconds"] / counters["handled"] / 3600 if counters["handled"] else None


def average_bounces(counters: Mapping[str, int]) -> float | None:
    return counters["bounces"] / counters["kept"] if counters["kept"] else None


def percentile_hours(histogram: Mapping[int, int], fraction: float = 0.9) -> float | None:
    """Return the handling time (hours) below which `fraction` of replies fall, from bucket counts.

    Interpolated linearly within the bucket that holds it; in the open last bucket, its
    lower bound (the figure is then "at least").
    """
    total = sum(histogram.values())
    if not total:
        return None
    wanted = fraction * total
    below = 0
    for bucket in range(len(BUCKET_HOURS) + 1):
        count = histogram.get(bucket, 0)
        if count and below + count >= wanted:
            low = BUCKET_HOURS[bucket - 1] if bucket else 0
            if bucket == len(BUCKET_HOURS):
                return float(low)
            return low + (BUCKET_HOURS[bucket] - low) * (wanted - below) / count
        below += count
    return float(BUCKET_HOURS[-1])
