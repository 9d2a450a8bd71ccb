"""Celery tasks of the tickets app: each takes ids or nothing, reloads, and is safe to run twice."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def sla_sweep_task() -> int:
    """Raise the yellow and red cards that have come due (beat runs this every 30 s)."""
    from tickets.sla import sla_sweep

    return sla_sweep()


@shared_task(acks_late=True, ignore_result=True)
def feedback_expiry_task() -> int:
    """Close tickets whose rating window passed with no rating."""
    from tickets.sla import feedback_expiry_sweep

    return feedback_expiry_sweep()


@shared_task(acks_late=True, ignore_result=True)
def archive_task() -> int:
    """Archive tickets closed more than MINHU_ARCHIVE_AFTER_DAYS ago."""
    from tickets.sla import archive_sweep

    return archive_sweep()
