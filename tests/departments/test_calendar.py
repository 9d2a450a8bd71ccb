"""Working days and stage deadlines on China's official schedule (design §5)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from departments import calendar
from departments.models import CalendarDay

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def official(db):
    calendar.seed_from_chinese_calendar()


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def test_five_working_days_from_national_day_eve_end_on_october_13th(official):
    # Oct 1-7 off; Sat Oct 10 is an adjusted workday: Oct 8, 9, 10, 12, 13.
    due = calendar.due_at(at(2026, 9, 30, 10, 15), 5, "working_days")
    assert due == at(2026, 10, 13, 23, 59, 59)
    assert due.isoformat() == "2026-10-13T23:59:59+08:00"


def test_the_starting_day_never_counts_even_when_it_is_a_workday(official):
    assert calendar.due_at(at(2026, 11, 24, 0, 1), 1, "working_days") == at(2026, 11, 25, 23, 59, 59)


def test_spring_festival_2026_counts_its_adjusted_saturdays(official):
    assert calendar.is_workday(dt.date(2026, 2, 14))  # Saturday, adjusted workday
    assert calendar.is_workday(dt.date(2026, 2, 28))  # Saturday, adjusted workday
    assert not calendar.is_workday(dt.date(2026, 2, 16))  # Monday, Spring Festival
    assert not calendar.is_workday(dt.date(2026, 2, 23))  # Monday, Spring Festival
    start = at(2026, 2, 13, 16, 0)  # Friday before the holiday
    assert calendar.due_at(start, 1, "working_days") == at(2026, 2, 14, 23, 59, 59)
    assert calendar.due_at(start, 2, "working_days") == at(2026, 2, 24, 23, 59, 59)


def test_hours_are_calendar_hours_round_the_clock(official):
    start = at(2026, 10, 1, 22, 0)  # a holiday night
    assert calendar.due_at(start, 4, "hours") == at(2026, 10, 2, 2, 0)


def test_a_year_without_a_schedule_falls_back_to_monday_to_friday(official):
    assert not calendar.has_schedule(2031)
    assert calendar.has_schedule(2026)
    # Fri 2031-01-03 + 1 working day = Mon 2031-01-06, even though Jan 1 would be a holiday.
    assert calendar.due_at(at(2031, 1, 3, 9, 0), 1, "working_days") == at(2031, 1, 6, 23, 59, 59)
    assert calendar.is_workday(dt.date(2031, 1, 1))


def test_an_exception_entered_by_staff_applies_at_once(official):
    assert calendar.is_workday(dt.date(2031, 1, 1))
    CalendarDay.objects.create(date=dt.date(2031, 1, 1), is_workday=False, name="元旦")
    assert not calendar.is_workday(dt.date(2031, 1, 1))
    assert calendar.has_schedule(2031)


def test_seeding_is_idempotent_and_keeps_staff_edits(official):
    day = CalendarDay.objects.get(date=dt.date(2026, 10, 10))
    day.name = "国庆调休（已核对）"
    day.save()
    assert calendar.seed_from_chinese_calendar() == 0
    assert CalendarDay.objects.get(date=dt.date(2026, 10, 10)).name == "国庆调休（已核对）"


def test_deadline_policy_must_be_positive(official):
    with pytest.raises(ValueError):
        calendar.due_at(at(2026, 1, 5, 9, 0), 0, "working_days")
    with pytest.raises(ValueError):
        calendar.due_at(at(2026, 1, 5, 9, 0), 1, "fortnights")
