"""Reads of ratings and reopens for the staff screens."""

from django.db.models import Case, OuterRef, QuerySet, Subquery, TextField, Value, When

from feedback.models import ReopenFlag
from tickets.models import OPEN_STATES, Rating, State, Ticket, TicketEvent
from tickets.selectors import ticket_visible_to

FLAGS_SHOWN = 50


def _last_reopen_note(ticket_ref: str) -> Subquery:
    # A ticket's events in id order (ticketevent_ticket_id): its few reopens are read backwards.
    return Subquery(
        TicketEvent.objects.filter(ticket=OuterRef(ticket_ref), kind="reopen").order_by("-id").values("note")[:1]
    )


def with_reopen_comment(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Annotate each ticket with the citizen's comment at its latest reopen (`reopen_comment`, "" if none)."""
    return tickets.annotate(reopen_comment=Case(
        When(reopen_count__gt=0, then=_last_reopen_note("pk")), default=Value(""), output_field=TextField(),
    ))


def reopen_flags_open(*, limit: int = FLAGS_SHOWN) -> list[ReopenFlag]:
    """Return the tickets flagged for their reopens that are still open, the newest flag first.

    For the dispatch desk: the centre sees every ticket.
    """
    return list(
        ReopenFlag.objects.filter(ticket__state__in=OPEN_STATES)
        .select_related("ticket", "ticket__unit", "ticket__category")
        .annotate(reopen_comment=_last_reopen_note("ticket_id"))
        .order_by("-flagged_at")[:limit]
    )


def latest_reopen(ticket: Ticket) -> TicketEvent | None:
    """Return the ticket's latest reopen (the citizen's "unsatisfied" and comment), or None."""
    if not ticket.reopen_count:
        return None
    return ticket.events.filter(kind="reopen").order_by("-id").first()


def callbacks_due(*, user) -> QuerySet[Ticket]:
    """Return the tickets waiting for a rating whose citizen can be called, the nearest rating deadline first."""
    return (
        ticket_visible_to(user).filter(state=State.AWAITING_FEEDBACK).exclude(reporter_phone="")
        .select_related("category", "unit").order_by("feedback_due_at", "id")
    )


def ratings_of(ticket: Ticket) -> list[TicketEvent]:
    """Return the ticket's ratings so far (rate and reopen events, each with its `rating_label`), oldest first."""
    labels = dict(Rating.choices)
    events = list(ticket.events.filter(kind__in=("rate", "reopen")).order_by("id"))
    for event in events:
        event.rating_label = labels.get(event.payload.get("rating"), event.payload.get("rating", ""))
    return events
