"""Yellow and red cards raised on time by a real worker, across China's official holidays.

The sweep's unit tests hand it `now`, and the calendar's tests call it directly. Here a
real Celery worker consumes the sweep from Redis and reads the clock itself, while
time_machine moves that clock (ticking, so the worker's own timers keep running) to
just before and just after each mark (design §5).

The expected deadlines are written out by hand from the State Council's 2026 schedule
(the same dates as the `chinese-calendar` data the database is seeded from), so a
wrong calendar cannot confirm itself. Each case notes what plain Monday-Friday would
give, to show that the case depends on the holidays and the adjusted workdays (调休).
"""

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery.signals import task_postrun, task_prerun
from django.utils import timezone

from departments.calendar import seed_from_chinese_calendar
from departments.models import DeadlineUnit
from tests.factories import make_category, make_city, make_ticket
from tickets.models import AlertLevel, DeadlineAlert, State, Ticket

SHANGHAI = ZoneInfo("Asia/Shanghai")
# "Just before" a mark: the sweep must have finished within this margin, which the
# run's own timestamps prove (see _assert_cards_raised_on_time).
BEFORE = dt.timedelta(seconds=3)
AFTER = dt.timedelta(seconds=1)
WAIT_SECONDS = 20


def _at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def _end_of(year: int, month: int, day: int) -> dt.datetime:
    return _at(year, month, day, 23, 59, 59)


@dataclass(frozen=True)
class SweepRun:
    """When the worker's sweep started and finished, by the worker's (travelled) clock."""

    started_at: dt.datetime
    finished_at: dt.datetime


@contextlib.contextmanager
def _real_worker(clock: time_machine.Traveller) -> Iterator[Callable[[dt.datetime], SweepRun]]:
    """Run a Celery worker thread on the Redis queue; yield a function that sweeps at a moment.

    The function moves the clock to the moment, sends the sweep task through Redis and
    returns once the worker has run it. Task signals fire in the worker's thread of
    this process, so they say when a sweep that raised nothing actually ran, without
    a result backend.
    """
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings

    from config.celery import app
    from tickets.tasks import sla_sweep_task

    assert not settings.CELERY_TASK_ALWAYS_EAGER and settings.CELERY_BROKER_URL.startswith("redis://")
    done = threading.Condition()
    runs: dict[str, dict] = {}

    def on_prerun(task_id: str, **kwargs) -> None:
        with done:
            runs[task_id] = {"started_at": timezone.now()}

    def on_postrun(task_id: str, state: str, retval, **kwargs) -> None:
        with done:
            runs[task_id].update(finished_at=timezone.now(), state=state, retval=retval)
            done.notify_all()

    def sweep_at(moment: dt.datetime) -> SweepRun:
        clock.move_to(moment, tick=True)
        task_id = sla_sweep_task.delay().id
        with done:
            finished = done.wait_for(lambda: "state" in runs.get(task_id, {}), timeout=WAIT_SECONDS)
        assert finished, f"the worker did not run the sweep sent at {moment}"
        run = runs[task_id]
        assert run["state"] == "SUCCESS", run["retval"]
        return SweepRun(started_at=run["started_at"], finished_at=run["finished_at"])

    # The worker builds its task tracers at start-up, seeing only receivers connected by then.
    task_prerun.connect(on_prerun, weak=False)
    task_postrun.connect(on_postrun, weak=False)
    # Let the clock run from where it stands: the worker's timers and Redis need it to advance.
    clock.move_to(timezone.now(), tick=True)
    try:
        # An interrupted earlier run may have left messages; they must not run at our times.
        app.control.purge()
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield sweep_at
    finally:
        task_prerun.disconnect(on_prerun)
        task_postrun.disconnect(on_postrun)


def _cards(ticket: Ticket, stage: str) -> list[str]:
    return list(
        DeadlineAlert.objects.filter(
            ticket=ticket, stage=stage, level__in=[AlertLevel.YELLOW, AlertLevel.RED]
        ).order_by("id").values_list("level", flat=True)
    )


def _assert_cards_raised_on_time(
    sweep_at: Callable[[dt.datetime], SweepRun], ticket: Ticket, stage: str,
    *, started_at: dt.datetime, due: dt.datetime,
) -> None:
    warn = started_at + (due - started_at) * 0.8

    run = sweep_at(warn - BEFORE)
    # Time keeps ticking: only a sweep that finished before the mark tests "before".
    assert run.finished_at < warn, f"the worker swept too late ({run}) to test before {warn}"
    assert _cards(ticket, stage) == [], f"a card before the yellow mark {warn}"

    run = sweep_at(warn + AFTER)
    assert run.started_at > warn
    assert _cards(ticket, stage) == ["yellow"], f"no yellow card just after {warn}"

    run = sweep_at(due - BEFORE)
    assert run.finished_at < due, f"the worker swept too late ({run}) to test before {due}"
    assert _cards(ticket, stage) == ["yellow"], f"a red card before the deadline {due}"

    run = sweep_at(due + AFTER)
    assert run.started_at > due
    assert _cards(ticket, stage) == ["yellow", "red"], f"no red card just after {due}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.parametrize(
    ("state", "stage", "hours", "started_at", "due"),
    [
        # Reported late on the first day of the National Day holiday; due across midnight.
        pytest.param(State.REPORTED, "accept", 2, _at(2026, 10, 1, 23), _at(2026, 10, 2, 1),
                     id="accept-2h-on-national-day"),
        # Dispatched on the last working evening before the holiday.
        pytest.param(State.DISPATCHED, "claim", 4, _at(2026, 9, 30, 22), _at(2026, 10, 1, 2),
                     id="claim-4h-into-national-day"),
        # Three full days round the clock, every one of them a holiday.
        pytest.param(State.DISPATCHED, "claim", 72, _at(2026, 9, 30, 18), _at(2026, 10, 3, 18),
                     id="claim-72h-through-national-day"),
    ],
)
def test_a_real_worker_raises_hour_deadline_cards_round_the_clock_through_national_day(
    state, stage, hours, started_at, due
):
    city = make_city()
    city.category = make_category(
        code=f"{stage}-{hours}h", **{f"{stage}_amount": hours, f"{stage}_unit": DeadlineUnit.HOURS}
    )
    seed_from_chinese_calendar()  # holidays are loaded, and must change nothing
    # Frozen while the ticket is made, so its clock starts exactly at `started_at`.
    with time_machine.travel(started_at, tick=False) as clock:
        ticket = make_ticket(city, state)
        assert getattr(ticket, f"{stage}_due_at") == due
        with _real_worker(clock) as sweep_at:
            _assert_cards_raised_on_time(sweep_at, ticket, stage, started_at=started_at, due=due)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.parametrize(
    ("dispatched_at", "working_days", "due"),
    [
        # National Day: Oct 1-7 off, Sun Sep 20 and Sat Oct 10 worked.
        # Wed Sep 30 + 3: Oct 8, Oct 9, Sat Oct 10 (Monday-Friday would say Mon Oct 5).
        pytest.param(_at(2026, 9, 30, 10), 3, _end_of(2026, 10, 10),
                     id="national-day-ends-on-the-saturday-workday"),
        # Sat Oct 3, a holiday, never counts; + 1: Thu Oct 8 (Monday-Friday: Mon Oct 5).
        pytest.param(_at(2026, 10, 3, 9), 1, _end_of(2026, 10, 8),
                     id="national-day-clock-started-on-a-holiday"),
        # Fri Sep 18 + 1: Sun Sep 20, worked for National Day (Monday-Friday: Mon Sep 21).
        pytest.param(_at(2026, 9, 18, 16), 1, _end_of(2026, 9, 20),
                     id="national-day-sunday-workday"),
        # Spring Festival: Feb 15-23 off, Sat Feb 14 and Sat Feb 28 worked.
        # Fri Feb 13 + 6: Feb 14, 24, 25, 26, 27, 28 (Monday-Friday: Mon Feb 23).
        pytest.param(_at(2026, 2, 13, 15), 6, _end_of(2026, 2, 28),
                     id="spring-festival-across-both-saturday-workdays"),
        # Sat Feb 14 is a workday but the starting day never counts; + 1: Tue Feb 24
        # (Monday-Friday: Mon Feb 16).
        pytest.param(_at(2026, 2, 14, 9), 1, _end_of(2026, 2, 24),
                     id="spring-festival-clock-started-on-the-saturday-workday"),
    ],
)
def test_a_real_worker_raises_working_day_deadline_cards_on_the_official_2026_schedule(
    dispatched_at, working_days, due
):
    city = make_city()
    city.category = make_category(
        code=f"resolve-{working_days}wd", resolve_amount=working_days,
        resolve_unit=DeadlineUnit.WORKING_DAYS,
    )
    seed_from_chinese_calendar()
    # Frozen while the ticket is made, so its clock starts exactly at `dispatched_at`;
    # claimed at once, so the resolve clock is the only one running.
    with time_machine.travel(dispatched_at, tick=False) as clock:
        ticket = make_ticket(city, State.IN_PROGRESS)
        assert ticket.dispatched_at == dispatched_at
        assert ticket.resolve_due_at == due
        with _real_worker(clock) as sweep_at:
            _assert_cards_raised_on_time(sweep_at, ticket, "resolve", started_at=dispatched_at, due=due)
