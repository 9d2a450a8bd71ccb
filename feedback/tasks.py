"""Celery tasks of the feedback app: each takes ids or nothing, reloads, and is safe to run twice."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def stats_catch_up_task() -> int:
    """Add the events committed since the last run to the statistics (beat runs this every 15 s)."""
    from feedback.stats.rollup import stats_catch_up

    return stats_catch_up()


@shared_task(acks_late=True, ignore_result=True)
def stats_at_risk_task() -> int:
    """Count the city's tickets at risk now for the statistics pages (beat runs this every 30 s)."""
    from feedback.stats.selectors import at_risk_count

    return sum(yellow + red for yellow, red in at_risk_count().values())
