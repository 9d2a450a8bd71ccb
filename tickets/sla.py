"""The deadline sweep: yellow cards at 80 % of a stage's time, red cards at its deadline.

Each ticket carries `next_check_at`, the next mark that can fire; the sweep reads only
tickets whose mark has come (a partial index), raises what is due, and moves the mark
on. Cards are rows of DeadlineAlert under a unique constraint, so two sweeps racing
each other, or one run twice, raise every card exactly once.
"""

import datetime as dt

from django.db import transaction
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
            # the next round instead of blocking this one; and no two sweeps ever
            # judge the same ticket at once.
            tickets = list(
                Ticket.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(next_check_at__lte=now)
                .order_by("next_check_at")[:batch]
            )
            raised += _check_batch(tickets, now)
        if len(tickets) < batch:
            return raised


def _check_batch(tickets: list[Ticket], now: dt.datetime) -> int:
    """Judge a locked batch with a handful of statements, whatever its size."""
    cards = []  # (ticket, stage, level, due, warn)
    for ticket in tickets:
        upcoming = []
        for stage in RUNNING_STAGES.get(ticket.state, ()):
            due, warn = getattr(ticket, f"{stage}_due_at"), getattr(ticket, f"{stage}_warn_at")
            if due is None:
                continue
            if due <= now:
                cards.append((ticket, stage, AlertLevel.RED, due, warn))
            elif warn <= now:
                cards.append((ticket, stage, AlertLevel.YELLOW, due, warn))
                upcoming.append(due)
            else:
                upcoming.append(warn)
        ticket.next_check_at = min(upcoming, default=None)
    Ticket.objects.bulk_update(tickets, ["next_check_at"])
    if not cards:
        return 0
    raised_before = set(
        DeadlineAlert.objects.filter(ticket_id__in={card[0].id for card in cards})
        .values_list("ticket_id", "stage", "level", "due_at", "warn_at")
    )
    new = [c for c in cards if (c[0].id, *c[1:]) not in raised_before]
    # Rows are locked, so a card raised before is in `raised_before`; the unique
    # constraint stays the last word should anything else insert one.
    DeadlineAlert.objects.bulk_create(
        DeadlineAlert(ticket=t, stage=stage, level=level, due_at=due, warn_at=warn, raised_at=now)
        for t, stage, level, due, warn in new
    )
    TicketEvent.objects.bulk_create(
        TicketEvent(
            ticket=t, kind=f"warning_{level}", from_state=t.state, to_state=t.state,
            unit_id=t.unit_id, is_public=False, at=now,
            payload={"stage": stage, "due_at": due.isoformat()},
        )
        for t, stage, level, due, _warn in new
    )
    return len(new)


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
