"""Each rate's formula against figures computed by hand, with the edge cases."""

import datetime as dt

import pytest

from feedback.stats import rates
from feedback.stats.selectors import Period
from tests.feedback.stats_helpers import HANDLED_STEPS as HANDLED
from tests.feedback.stats_helpers import NOVEMBER, at, figures, live, then
from tickets.sla import sla_sweep


def test_with_no_tickets_every_rate_is_undefined_and_every_count_zero(db):
    counted = figures()

    assert set(counted.counters.values()) == {0}
    assert {rate.key: rate.of(counted.counters) for rate in rates.RATES} == dict.fromkeys(
        ["response", "completion", "solution", "satisfaction", "reopen", "return"]
    )
    assert counted.average_hours is None and counted.p90_hours is None and counted.average_bounces is None


def test_only_rejected_tickets_are_reported_and_rejected_and_leave_every_rate_undefined(city):
    for _ in range(3):
        live(city, [(0.5, "reject")], accepted=False)

    counted = figures()

    assert (counted.counters["reported"], counted.counters["rejected"], counted.counters["received"]) == (3, 3, 0)
    assert all(value is None for value in counted.rates.values())


def test_a_ticket_reopened_then_satisfied_counts_one_unsolved_and_one_solved_round(city):
    live(city, [*HANDLED, (4, "rate:unsatisfied"), (5, "claim"), (6, "resolve"), (7, "verify"),
                (8, "rate:satisfied")])

    counted = figures().counters

    assert (counted["reopened"], counted["satisfied"], counted["closed"], counted["closed_reopened"]) == (1, 1, 1, 1)
    assert rates.SOLUTION.of(counted) == 1 / 2  # round 1 sent back unsolved, round 2 solved
    assert rates.SATISFACTION.of(counted) == 1 / 2  # one 不满意, one 满意
    assert rates.REOPEN.of(counted) == 1.0  # the one ticket closed had been reopened
    assert rates.RESPONSE.of(counted) == 1.0 and rates.COMPLETION.of(counted) == 1.0
    # Received once (a reopen is not a new dispatch), handled twice: 2 h, then 6 - 4 = 2 h.
    assert (counted["received"], counted["handled"], counted["handling_seconds"]) == (1, 2, 4 * 3600)


def test_the_rates_of_a_small_city_match_the_figures_worked_out_by_hand(city):
    # A: on time throughout, rated 满意.
    live(city, [*HANDLED, (4, "rate:satisfied")])
    # B: signed for an hour after its 4-hour claim deadline, rated 基本满意.
    live(city, [(0, "dispatch"), (5, "claim"), (6, "resolve"), (7, "verify"), (8, "rate:basically_satisfied")])
    # C: reopened once, then 满意.
    live(city, [*HANDLED, (4, "rate:unsatisfied"), (5, "claim"), (6, "resolve"), (7, "verify"),
                (8, "rate:satisfied")])
    # D: rejected.
    live(city, [(0.5, "reject")], accepted=False)
    # E: the street returns it unsigned, the bureau keeps it; nobody rates it.
    live(city, [(0, "dispatch:street"), (1, "return"), (2, "dispatch:bureau"), (3, "claim"), (4, "resolve"),
                (5, "verify"), (6, "expire")])
    # F: signed for, then its resolve deadline passes with no reply (a red card).
    f = live(city, [(0, "dispatch"), (1, "claim")])
    sla_sweep(now=f.resolve_due_at + dt.timedelta(seconds=1))

    counted = figures().counters

    assert {name: counted[name] for name in (
        "reported", "rejected", "received", "claimed_on_time", "claimed_late", "resolved_on_time",
        "resolved_late", "handled", "returned", "kept", "bounces", "kept_bounced", "satisfied",
        "basically_satisfied", "reopened", "expired", "closed", "closed_reopened",
    )} == {
        "reported": 6, "rejected": 1, "received": 6,  # A B C F, E twice (street, then bureau)
        "claimed_on_time": 5, "claimed_late": 1,  # A C C E F on time, B late; E's street never signed
        "resolved_on_time": 5, "resolved_late": 1,  # A B C C E; F's red card
        "handled": 5, "returned": 1, "kept": 4, "bounces": 1, "kept_bounced": 1,
        "satisfied": 2, "basically_satisfied": 1, "reopened": 1, "expired": 1, "closed": 4, "closed_reopened": 1,
    }
    assert rates.RESPONSE.of(counted) == 5 / 6
    assert rates.COMPLETION.of(counted) == 5 / 6
    assert rates.SOLUTION.of(counted) == 4 / 5  # A B C E closed; C's first round sent back
    assert rates.SATISFACTION.of(counted) == 3 / 4  # E closed unrated: not a rating
    assert rates.REOPEN.of(counted) == 1 / 4
    assert rates.RETURN.of(counted) == 1 / 6
    assert rates.average_bounces(counted) == 1 / 4
    # Handling: A 2 h, B 6 h, C 2 h and 2 h, E 2 h (from the bureau's dispatch).
    assert rates.average_hours(counted) == pytest.approx((2 + 6 + 2 + 2 + 2) / 5)
    # The row's histogram: four replies in (1 h, 2 h], one in (4 h, 8 h]; nothing elsewhere.
    assert {name: count for name, count in counted.items() if name.startswith("handled_") and count} == {
        "handled_upto_2h": 4, "handled_upto_8h": 1,
    }
    # p90: the 4.5th of 5 replies lies halfway into the (4 h, 8 h] bucket's one reply.
    assert figures().p90_hours == pytest.approx(4 + (8 - 4) * 0.5)


def test_a_units_figures_count_what_it_was_given_and_did(city):
    live(city, [(0, "dispatch:street"), (1, "return"), (2, "dispatch:bureau"), (3, "claim"), (4, "resolve"),
                (5, "verify")])

    street = figures(unit_ids=frozenset({city.street.id})).counters
    bureau = figures(unit_ids=frozenset({city.bureau.id})).counters
    district = figures(district_id=city.district.id).counters

    assert (street["received"], street["returned"], street["claimed_on_time"] + street["claimed_late"]) == (1, 1, 0)
    assert (bureau["received"], bureau["kept"], bureau["bounces"], bureau["returned"]) == (1, 1, 1, 0)
    assert district == street  # the street is the district's only unit that saw it
    assert street["reported"] == 0  # reports are the centre's figure


def test_a_claim_after_the_red_card_is_counted_late_once(city):
    ticket = live(city, [(0, "dispatch")])
    sla_sweep(now=ticket.claim_due_at + dt.timedelta(seconds=1))
    then(city, ticket, [(5, "claim"), (6, "resolve"), (7, "verify")])

    counted = figures().counters

    assert (counted["claimed_on_time"], counted["claimed_late"], counted["resolved_on_time"]) == (0, 1, 1)


def test_a_reply_sent_back_and_resubmitted_after_the_deadline_is_late(city):
    ticket = live(city, [(0, "dispatch"), (1, "claim"), (2, "resolve"), (3, "send_back")])
    hours_late = (ticket.resolve_due_at - at(0)).total_seconds() / 3600 + 1
    then(city, ticket, [(hours_late, "resolve"), (hours_late + 1, "verify")])

    counted = figures().counters

    assert (counted["resolved_on_time"], counted["resolved_late"], counted["sent_back"]) == (0, 1, 1)


def test_a_period_of_whole_months_and_edge_days_counts_each_fact_once(city):
    live(city, [*HANDLED, (4, "rate:satisfied")])

    assert figures(Period(dt.date(2026, 10, 15), dt.date(2026, 12, 5))).counters["reported"] == 1
    assert figures(Period(dt.date(2026, 11, 2), dt.date(2026, 11, 2))).counters["reported"] == 1
    assert figures(Period(dt.date(2026, 11, 3), dt.date(2027, 1, 31))).counters["reported"] == 0
    assert figures(NOVEMBER).counters["satisfied"] == 1


def test_a_period_sums_every_day_and_month_it_covers(city):
    live(city, [(24, "dispatch")])  # reported 2 November, dispatched the 3rd
    live(city, [(24 * 30, "dispatch")])  # reported 2 November, dispatched 2 December

    def counted(start, end):
        got = figures(Period(dt.date.fromisoformat(start), dt.date.fromisoformat(end))).counters
        return got["reported"], got["received"]

    assert counted("2026-10-15", "2026-12-05") == (2, 2)  # days, a whole month, days
    assert counted("2026-11-01", "2026-11-30") == (2, 1)  # one whole month
    assert counted("2026-11-03", "2026-12-01") == (0, 1)  # days only
    assert counted("2026-11-02", "2026-12-31") == (2, 2)  # days, then a whole month
    assert counted("2026-11-04", "2026-12-01") == (0, 0)
