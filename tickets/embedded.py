"""The time-driven jobs run inside the one process of the embedded demo (no Celery worker).

Production runs the same functions from Celery beat (config.settings CELERY_BEAT_SCHEDULE);
here a daemon thread calls them on the same periods, so the demo's deadlines still fire.
"""

import logging
import threading
import time

from django.db import close_old_connections, connections

from feedback.stats.rollup import stats_catch_up
from feedback.stats.selectors import at_risk_count
from tickets.notifications import notification_sweep
from tickets.sla import archive_sweep, feedback_expiry_sweep, sla_sweep

logger = logging.getLogger(__name__)

# (seconds between runs, job): the periods of the beat schedule.
JOBS = (
    (30.0, sla_sweep), (60.0, notification_sweep), (300.0, feedback_expiry_sweep),
    (3600.0, archive_sweep), (15.0, stats_catch_up), (30.0, at_risk_count),
)


def start(*, tick: float = 5.0, jobs=JOBS) -> threading.Event:
    """Start the jobs in a daemon thread; return the event that stops it."""
    stop = threading.Event()
    thread = threading.Thread(target=_loop, args=(stop, tick, jobs), name="minhu-jobs", daemon=True)
    thread.start()
    return stop


def _loop(stop: threading.Event, tick: float, jobs) -> None:
    last_run: dict = {}
    while not stop.is_set():
        for period, job in jobs:
            if time.monotonic() - last_run.get(job, float("-inf")) < period:
                continue
            last_run[job] = time.monotonic()
            try:
                job()
            except Exception:  # one failed round must not end the demo's clock
                logger.exception("Embedded job %s failed; it runs again next period.", job.__name__)
            finally:
                close_old_connections()
        stop.wait(tick)
    connections.close_all()
