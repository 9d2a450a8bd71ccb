"""Working days and stage deadlines (design §5).

N working days means the end (23:59:59 local time) of the Nth working day after the
day the clock starts; that day itself never counts. Working days are Monday to Friday
corrected by the dated exceptions in `CalendarDay`. A year without any exception has
no official schedule loaded: it falls back to plain Monday-Friday (the admin warns).
"""

import datetime as dt
import logging
import threading
import time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from departments.models import CalendarDay, DeadlineUnit

logger = logging.getLogger(__name__)

# Exceptions change about once a year; each process keeps them for a minute rather
# than asking the database on every transition. Saves in the admin clear it at once
# in that process (signals), others within the minute.
_CACHE_SECONDS = 60
_cache: dict[int, tuple[float, dict[dt.date, bool]]] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _exceptions(year: int) -> dict[dt.date, bool]:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(year)
        if hit and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
    days = dict(
        CalendarDay.objects.filter(date__year=year).values_list("date", "is_workday")
    )
    if not days:
        logger.warning("No official working calendar for %s: using Monday-Friday.", year)
    with _lock:
        _cache[year] = (now, days)
    return days


def has_schedule(year: int) -> bool:
    """Return whether an official holiday schedule is loaded for the year."""
    return bool(_exceptions(year))


def is_workday(day: dt.date) -> bool:
    exception = _exceptions(day.year).get(day)
    if exception is not None:
        return exception
    return day.weekday() < 5


def add_working_days(day: dt.date, count: int) -> dt.date:
    """Return the date of the `count`-th working day after `day` (which never counts)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    while count:
        day += dt.timedelta(days=1)
        if is_workday(day):
            count -= 1
    return day


def working_days_between(first: dt.date, last: dt.date) -> int:
    """Return how many working days come after `first` up to and including `last`."""
    count, day = 0, first
    while day < last:
        day += dt.timedelta(days=1)
        count += is_workday(day)
    return count


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def due_at(start: dt.datetime, amount: int, unit: str) -> dt.datetime:
    """Return when a stage that started at `start` is due under the policy (amount, unit)."""
    if amount < 1:
        raise ValueError("amount must be at least 1")
    if unit == DeadlineUnit.HOURS:
        return start + dt.timedelta(hours=amount)
    if unit == DeadlineUnit.WORKING_DAYS:
        zone = local_zone()
        last_day = add_working_days(timezone.localtime(start, zone).date(), amount)
        return dt.datetime.combine(last_day, dt.time(23, 59, 59), tzinfo=zone)
    raise ValueError(f"unknown deadline unit {unit!r}")


def seed_from_chinese_calendar() -> int:
    """Load the statutory holidays and adjusted workdays of the `chinese-calendar` data.

    Only weekday holidays and weekend workdays are stored: a holiday that falls on a
    weekend changes nothing. Existing rows are left as staff edited them. Return the
    number of rows created.
    """
    import chinese_calendar

    rows = [
        CalendarDay(date=day, is_workday=False, name=str(name or ""))
        for day, name in chinese_calendar.holidays.items()
        if day.weekday() < 5
    ] + [
        CalendarDay(date=day, is_workday=True, name=str(name or ""))
        for day, name in chinese_calendar.workdays.items()
        if day.weekday() >= 5
    ]
    existing = set(CalendarDay.objects.values_list("date", flat=True))
    new = [row for row in rows if row.date not in existing]
    CalendarDay.objects.bulk_create(new, ignore_conflicts=True)
    clear_cache()
    return len(new)
