"""The deadline sweep: yellow cards at 80 % of a stage's time, red cards at its deadline.

Each ticket carries `next_check_at`, the next mark that can fire; the sweep reads only
tickets whose mark has come (a partial index), raises what is due, and moves the mark
on. Cards are rows of DeadlineAlert under a unique constraint, so two sweeps racing
each other, or one run twice, raise every card exactly once.
"""

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from django.conf import settings

from tickets.errors import TicketError
from tickets.models import RUNNING_STAGES, AlertLevel, DeadlineAlert, State, Ticket, TicketEvent

SWEEP_BATCH = 500


def sla_sweep(*, now: dt.datetime | None = None, batch: int = SWEEP_BATCH) -> int:
    """Raise every card that has come due by `now`; return how many were raised."""
    now = now or timezone.now()
    raised = 0
    while True:
        with transaction.atomic():
            # SKIP LOCKED: a ticket mid-transition, or held by another sweep, waits for
            # the next round instead of blocking this one.
            tickets = list(
                Ticket.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(next_check_at__lte=now)
                .order_by("next_check_at")[:batch]
            )
            for ticket in tickets:
                raised += _check(ticket, now)
        if len(tickets) < batch:
            return raised


def _check(ticket: Ticket, now: dt.datetime) -> int:
    raised, upcoming = 0, []
    for stage in RUNNING_STAGES.get(ticket.state, ()):
        due, warn = getattr(ticket, f"{stage}_due_at"), getattr(ticket, f"{stage}_warn_at")
        if due is None:
            continue
        if due <= now:
            raised += _raise(ticket, stage, AlertLevel.RED, due, warn, now)
        elif warn <= now:
            raised += _raise(ticket, stage, AlertLevel.YELLOW, due, warn, now)
            upcoming.append(due)
        else:
            upcoming.append(warn)
    Ticket.objects.filter(id=ticket.id).update(next_check_at=min(upcoming, default=None))
    return raised


def _raise(
    ticket: Ticket, stage: str, level: str, due: dt.datetime, warn: dt.datetime, now: dt.datetime
) -> int:
    try:
        with transaction.atomic():
            DeadlineAlert.objects.create(
                ticket=ticket, stage=stage, level=level, due_at=due, warn_at=warn, raised_at=now
            )
    except IntegrityError:
        return 0  # already raised for this run of the clock
    TicketEvent.record(
        ticket, f"warning_{level}", ticket.state, unit=ticket.unit, is_public=False, at=now,
        payload={"stage": stage, "due_at": due.isoformat()},
    )
    return 1


def _apply_each(ticket_ids: list[int], service, **kwargs) -> int:
    """Run a time-driven service on each ticket; one that moved on meanwhile is skipped."""
    done = 0
    for ticket_id in ticket_ids:
        try:
            service(ticket_id=ticket_id, **kwargs)
        except TicketError:
            continue  # a person acted first (rated, reopened): nothing to do
        done += 1
    return done


def feedback_expiry_sweep(*, now: dt.datetime | None = None, batch: int = SWEEP_BATCH) -> int:
    """Close the tickets whose rating window has passed with no rating; return how many."""
    from tickets.services import ticket_expire_feedback

    now = now or timezone.now()
    ids = list(
        Ticket.objects.filter(state=State.AWAITING_FEEDBACK, feedback_due_at__lte=now)
        .order_by("feedback_due_at").values_list("id", flat=True)[:batch]
    )
    return _apply_each(ids, ticket_expire_feedback, now=now)


def archive_sweep(*, now: dt.datetime | None = None, batch: int = SWEEP_BATCH) -> int:
    """Archive closed, rejected and merged tickets MINHU_ARCHIVE_AFTER_DAYS after closing."""
    from tickets.services import ticket_archive

    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.MINHU_ARCHIVE_AFTER_DAYS)
    ids = list(
        Ticket.objects.filter(
            state__in=[State.CLOSED, State.REJECTED, State.MERGED], closed_at__lte=cutoff
        ).order_by("closed_at").values_list("id", flat=True)[:batch]
    )
    return _apply_each(ids, ticket_archive)
