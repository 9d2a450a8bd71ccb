"""Celery tasks of the tickets app: each takes ids or nothing, reloads, and is safe to run twice."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def sla_sweep_task() -> int:
    """Raise the yellow and red cards that have come due (beat runs this every 30 s)."""
    from tickets.sla import sla_sweep

    return sla_sweep()
