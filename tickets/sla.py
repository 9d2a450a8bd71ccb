"""The deadline sweep: the marks of every running stage clock, each acted on once.

Each stage run has its marks: a yellow card (黄牌) at 80 % of the stage's time and a
red card (红牌) at its deadline; the resolve stage adds urging (催办) the next working
morning after a missed deadline and a listing for the centre's overdue report 5
working days after it. A red card raises the ticket's escalation level and tells the
unit, the unit above it and the centre.

Each ticket carries `next_check_at`, its next mark (or the end of its pause); the sweep
reads only tickets whose mark has come (a partial index), acts on what is due and
moves the mark on. Cards are rows of DeadlineAlert under a unique constraint, so two
sweeps racing each other, or one run twice, act on every mark exactly once; a sweep
killed mid-way leaves its unfinished batch untouched (one transaction per batch) for
the next one.
"""

import datetime as dt
from collections.abc import Iterator

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from departments import calendar
from departments.models import Unit, UnitKind
from tickets import broadcast, notifications
from tickets.errors import TicketError
from tickets.models import (
    RUNNING_STAGES,
    AlertLevel,
    DeadlineAlert,
    Notification,
    State,
    Ticket,
    TicketEvent,
)

SWEEP_BATCH = 500
URGING_HOUR = dt.time(9, 0)
OVERDUE_REPORT_WORKING_DAYS = 5

Y, R, U, O = AlertLevel.YELLOW, AlertLevel.RED, AlertLevel.URGE, AlertLevel.OVERDUE
EVENT_KINDS = {Y: "warning_yellow", R: "warning_red", U: "urging", O: "overdue_listed"}


def urging_at(due: dt.datetime) -> dt.datetime:
    """Return the first working morning after the day of a missed resolve deadline."""
    zone = calendar.local_zone()
    day = calendar.add_working_days(timezone.localtime(due, zone).date(), 1)
    return dt.datetime.combine(day, URGING_HOUR, tzinfo=zone)


def overdue_listed_at(due: dt.datetime) -> dt.datetime:
    """Return when a ticket still unresolved joins the centre's overdue report."""
    return calendar.due_at(due, OVERDUE_REPORT_WORKING_DAYS, "working_days")


def stage_marks(ticket: Ticket) -> Iterator[tuple[str, str, dt.datetime]]:
    """Yield (stage, level, at) for every mark of the ticket's running stage clocks."""
    if ticket.paused_at is not None:
        return
    for stage in RUNNING_STAGES.get(ticket.state, ()):
        due, warn = getattr(ticket, f"{stage}_due_at"), getattr(ticket, f"{stage}_warn_at")
        if due is None:
            continue
        yield stage, Y, warn
        yield stage, R, due
        if stage == "resolve":
            yield stage, U, urging_at(due)
            yield stage, O, overdue_listed_at(due)


def sla_sweep(*, now: dt.datetime | None = None, batch: int = SWEEP_BATCH) -> int:
    """Act on every mark that has come by `now`; return how many cards were raised."""
    now = now or timezone.now()
    raised = 0
    while True:
        with transaction.atomic():
            # SKIP LOCKED: a ticket mid-transition, or held by another sweep, waits for
            # the next round instead of blocking this one; and no two sweeps ever
            # judge the same ticket at once.
            tickets = list(
                Ticket.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("category")
                .filter(next_check_at__lte=now)
                .order_by("next_check_at")[:batch]
            )
            raised += _check_batch(tickets, now)
        if len(tickets) < batch:
            return raised


def _resume_ended_pauses(tickets: list[Ticket], now: dt.datetime) -> None:
    """Restart the clock of tickets whose pause ran out, at the pause's end."""
    from tickets.services import ticket_resume

    for ticket in tickets:
        if ticket.paused_at is not None and ticket.paused_until <= now:
            ticket_resume(ticket_id=ticket.id, actor=None, at=ticket.paused_until)
            ticket.refresh_from_db()


def _check_batch(tickets: list[Ticket], now: dt.datetime) -> int:
    """Judge a locked batch with a handful of statements, whatever its size."""
    _resume_ended_pauses(tickets, now)
    cards = []  # (ticket, stage, level, due, warn)
    for ticket in tickets:
        marks = list(stage_marks(ticket))
        passed = {(stage, level) for stage, level, at in marks if at <= now}
        for stage, level, _at in marks:
            # A yellow card after the deadline says nothing the red one does not.
            if (stage, level) in passed and not (level == Y and (stage, R) in passed):
                cards.append((ticket, stage, level, getattr(ticket, f"{stage}_due_at"),
                              getattr(ticket, f"{stage}_warn_at")))
        upcoming = [at for _stage, _level, at in marks if at > now]
        ticket.next_check_at = min(upcoming, default=ticket.paused_until)
    raised_before = set(
        DeadlineAlert.objects.filter(ticket_id__in={card[0].id for card in cards})
        .values_list("ticket_id", "stage", "level", "due_at", "warn_at")
    ) if cards else set()
    new = [c for c in cards if (c[0].id, *c[1:]) not in raised_before]
    for ticket, _stage, level, due, _warn in new:
        if level == R:
            ticket.escalation_level += 1
        elif level == O:
            ticket.overdue_listed_due = due
    _save_checks(tickets)
    if not new:
        return 0
    # Rows are locked, so a card raised before is in `raised_before`; the unique
    # constraint stays the last word should anything else insert one.
    DeadlineAlert.objects.bulk_create(
        DeadlineAlert(ticket=t, stage=stage, level=level, due_at=due, warn_at=warn, raised_at=now)
        for t, stage, level, due, warn in new
    )
    events = TicketEvent.objects.bulk_create(
        TicketEvent(
            ticket=t, kind=EVENT_KINDS[level], from_state=t.state, to_state=t.state,
            unit_id=t.unit_id, is_public=False, at=now,
            payload={"stage": stage, "due_at": due.isoformat(), "escalation_level": t.escalation_level},
        )
        for t, stage, level, due, _warn in new
    )
    _notify_cards(new, events)
    broadcast.announce(events)
    return len(new)


def _save_checks(tickets: list[Ticket]) -> None:
    """Write each ticket's next check, escalation level and listing in one statement."""
    if not tickets:
        return
    if connection.vendor != "postgresql":  # the embedded demo
        Ticket.objects.bulk_update(tickets, ["next_check_at", "escalation_level", "overdue_listed_due"])
        return
    # bulk_update builds a CASE per column and row, which costs more in Python than
    # the update itself at a thousand rows; one join on arrays does the same.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Ticket._meta.db_table} AS t"
            " SET next_check_at = v.next_check_at, escalation_level = v.escalation_level,"
            " overdue_listed_due = v.overdue_listed_due"
            " FROM unnest(%s::bigint[], %s::timestamptz[], %s::smallint[], %s::timestamptz[])"
            " AS v(id, next_check_at, escalation_level, overdue_listed_due) WHERE t.id = v.id",
            [[t.id for t in tickets], [t.next_check_at for t in tickets],
             [t.escalation_level for t in tickets], [t.overdue_listed_due for t in tickets]],
        )


def _notify_cards(cards: list[tuple], events: list[TicketEvent]) -> None:
    """Write the notices of a batch's cards in one insert (sent after the commit)."""
    units = {u.id: u for u in Unit.objects.all()}  # the whole tree is a few hundred rows
    centre = next((u for u in units.values() if u.kind == UnitKind.CENTRE), None)
    rows = []
    for (ticket, stage, level, due, _warn), event in zip(cards, events, strict=True):
        unit = units.get(ticket.unit_id)
        above = units.get(unit.parent_id) if unit else None
        above = None if above is None or above.kind == UnitKind.CENTRE else above
        kind, told = _who_is_told(stage, level, unit, above, centre)
        if kind is None:
            continue
        rows += notifications.build(
            event, kind, notifications.unit_recipients(told), stage=notifications.STAGE_NAMES[stage],
            due=notifications.local(due), unit=unit.name if unit else "", level=ticket.escalation_level,
        )
    notifications.save_and_send(rows)


def _who_is_told(stage: str, level: str, unit, above, centre) -> tuple[str | None, list]:
    """Return the kind of notice a card gives and the units whose liaisons get it."""
    Kind = Notification.Kind
    if level == O:
        return None, []  # a line in the centre's overdue report, not a message
    if stage in ("accept", "feedback") or unit is None:
        # The centre's own clocks: accepting a report, calling the citizen back.
        return (Kind.ESCALATION if level == R else Kind.WARNING), [centre]
    if level == Y:
        return (Kind.CLAIM_REMINDER if stage == "claim" else Kind.WARNING), [unit]
    if level == R:
        return Kind.ESCALATION, [unit, above, centre]
    return Kind.URGING, [unit, above]


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
