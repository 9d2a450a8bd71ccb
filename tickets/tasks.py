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


@shared_task(acks_late=True, ignore_result=True)
def notification_sweep_task() -> int:
    """Queue the notices that no task delivered (the broker was down, a worker died)."""
    from tickets.notifications import notification_sweep

    return notification_sweep()


@shared_task(acks_late=True, ignore_result=True)
def notifications_drain_task() -> int:
    """Hand the events waiting on the broker (each request's receipts) to send tasks."""
    from tickets.notifications import queue_waiting_events

    return queue_waiting_events()


@shared_task(bind=True, acks_late=True, ignore_result=True)
def notifications_send_task(self, notification_ids: list[int], event_ids: list[int] | None = None) -> None:
    """Send the notices; a failed one comes back after its backoff, up to the attempt limit.

    Safe to run twice: each notice is claimed by a conditional update, and one that
    was sent, or is gone, is passed over.
    """
    from tickets.models import Notification
    from tickets.notifications import notification_send

    if event_ids:
        notification_ids = [*notification_ids, *Notification.objects.filter(
            event_id__in=event_ids, status=Notification.Status.PENDING,
        ).values_list("id", flat=True)]

    retries: dict[float, list[int]] = {}
    for notification_id in notification_ids:
        delay = notification_send(notification_id=notification_id)
        if delay is not None:
            retries.setdefault(delay, []).append(notification_id)
    if self.request.is_eager:
        return  # in process (the embedded demo) nothing may sleep: the catch-up retries
    for delay, ids in retries.items():
        notifications_send_task.apply_async((ids,), countdown=delay)
