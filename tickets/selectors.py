"""Reads of tickets, all through the one visibility rule, `ticket_visible_to`."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Case, Count, Exists, IntegerField, Max, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from departments.models import Routing, Unit, UnitKind
from departments.selectors import staff_scope
from tickets import routing
from tickets.errors import InvalidInput, NotAllowed, NotFound
from tickets.models import RESOLVE_RUNNING_STATES, ExtensionRequest, Notification, Sla, State, Ticket, TicketEvent
from tickets.validation import mask_name, mask_phone, normalize_phone


def ticket_visible_to(user) -> QuerySet[Ticket]:
    """Return the tickets the user may see: every list, detail, search, export and socket.

    Centre staff see the whole city (including tickets no unit holds yet); handlers and
    unit admins their units' tickets; supervisors their subtree's; anyone else nothing.
    """
    scope = staff_scope(user)
    tickets = Ticket.objects.all()
    if scope.sees_all:
        return tickets
    if not scope.visible_unit_ids:
        return tickets.none()
    return tickets.filter(unit_id__in=scope.visible_unit_ids)


def ticket_get(*, user, number: str) -> Ticket:
    """Return the visible ticket with that number; NotFound for unknown and hidden alike."""
    ticket = (
        ticket_visible_to(user).select_related("category", "unit", "merged_into")
        .filter(number=number).first()
    )
    if ticket is None:
        raise NotFound(f"No ticket {number} that you may see.")
    return ticket


def sees_personal_data(user) -> bool:
    """The centre, who call citizens back, see names and phones in full; unit staff masked."""
    return staff_scope(user).is_operator


def ticket_reporter(*, user, ticket: Ticket, revealed: bool = False) -> dict:
    """Return the reporter's name and phone as the user may see them.

    The centre, who call citizens back, see them in full; unit staff see them masked
    (138****8000), enough to recognise a caller, not to call, unless `revealed` on this
    response (ticket_reveal_reporter logged it).
    """
    if revealed or sees_personal_data(user):
        return {"name": ticket.reporter_name, "phone": ticket.reporter_phone, "is_masked": False}
    return {
        "name": mask_name(ticket.reporter_name),
        "phone": mask_phone(ticket.reporter_phone),
        "is_masked": True,
    }


def ticket_events(ticket: Ticket) -> QuerySet[TicketEvent]:
    """Return the ticket's history, oldest first."""
    return ticket.events.select_related("actor", "unit").order_by("id")


def sla_filter(sla: str, now: dt.datetime | None = None) -> Q:
    """Return the condition for tickets whose nearest running deadline is in that SLA state."""
    now = now or timezone.now()
    if sla == Sla.BREACHED:
        return Q(due_at__lte=now)
    if sla == Sla.WARNING:
        return Q(warn_at__lte=now, due_at__gt=now)
    return Q(due_at__isnull=True) | Q(warn_at__gt=now)


def ticket_list(
    *,
    user,
    states: list[str] | None = None,
    unit_ids: list[int] | None = None,
    category_ids: list[int] | None = None,
    channels: list[str] | None = None,
    sla: str | None = None,
    reported_after: dt.datetime | None = None,
    reported_before: dt.datetime | None = None,
) -> QuerySet[Ticket]:
    """Return the visible tickets matching the filters, newest first (text: tickets.search)."""
    tickets = ticket_visible_to(user).select_related("category", "unit")
    if states:
        tickets = tickets.filter(state__in=states)
    if unit_ids:
        tickets = tickets.filter(unit_id__in=unit_ids)
    if category_ids:
        tickets = tickets.filter(category_id__in=category_ids)
    if channels:
        tickets = tickets.filter(channel__in=channels)
    if sla:
        tickets = tickets.filter(sla_filter(sla))
    if reported_after:
        tickets = tickets.filter(reported_at__gte=reported_after)
    if reported_before:
        tickets = tickets.filter(reported_at__lt=reported_before)
    return tickets.order_by("-id")


def overdue_report(*, user) -> QuerySet[Ticket]:
    """Return the visible tickets still unresolved 5 working days after their resolve deadline.

    The sweep lists a ticket (an "overdue" card) when that day comes; the listing holds
    while the same deadline stands and the unit has not answered.
    """
    return overdue_listed(ticket_visible_to(user)).select_related("category", "unit")


def overdue_listed(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Narrow `tickets` to those on the overdue report (the admin's filter applies it too)."""
    # The sweep sets overdue_listed_due and Ticket.refresh_sla clears it, so neither the
    # cards nor a comparison with resolve_due_at (which ruins the estimate) is read here.
    return tickets.filter(state__in=RESOLVE_RUNNING_STATES, overdue_listed_due__isnull=False)


def pending_extension(ticket: Ticket) -> ExtensionRequest | None:
    """Return the ticket's extension request waiting for the centre (at most one), if any."""
    return ExtensionRequest.objects.filter(ticket=ticket, status=ExtensionRequest.Status.PENDING).first()


def notifications_visible_to(user) -> QuerySet[Notification]:
    """Return the notices of the tickets the user may see."""
    if staff_scope(user).sees_all:
        return Notification.objects.all()  # no semi-join over every ticket for the centre
    return Notification.objects.filter(ticket__in=ticket_visible_to(user))


def caller_history(*, user, phone: str, limit: int = 10) -> list[Ticket]:
    """Return the caller's latest tickets for an operator on the line (their number is known).

    Only the centre, who see citizens' numbers, may look a caller up; an unusable number
    gives no tickets rather than an error, as the operator is still typing it.
    """
    if not sees_personal_data(user):
        raise NotAllowed(gettext("Only the centre's operators look up callers."))
    try:
        phone = normalize_phone(phone)
    except InvalidInput:
        return []
    if not phone:
        return []
    tickets = ticket_visible_to(user).filter(reporter_phone=phone).select_related("category", "unit")
    return list(tickets.order_by("-id")[:limit])


def may_reveal_reporter(user, ticket: Ticket) -> bool:
    """Staff of the unit holding the ticket may reveal its masked reporter (each reveal logged).

    The centre sees reporters in full and has nothing to reveal; supervisors and other
    units may not.
    """
    return not sees_personal_data(user) and ticket.can_unit_act(user)


def dispatch_units() -> QuerySet[Unit]:
    """Return the units a ticket may be dispatched to: the active handling units, never the centre."""
    return Unit.objects.filter(is_active=True).exclude(kind=UnitKind.CENTRE).order_by("path")


def dispatch_suggestion(ticket: Ticket) -> Unit | None:
    """Return the unit the ticket's category usually goes to, when it can take tickets."""
    unit = ticket.category.default_unit
    if unit is None or not unit.is_active or unit.kind == UnitKind.CENTRE:
        return None
    return unit


def events_visible_to(user) -> QuerySet[TicketEvent]:
    """Return the history lines of the tickets the user may see."""
    if staff_scope(user).sees_all:
        return TicketEvent.objects.all()  # no semi-join over every ticket for the centre
    return TicketEvent.objects.filter(ticket__in=ticket_visible_to(user))


# -- what a citizen sees of their ticket (tracking page) ------------------------------

# Notes written for the citizen to read: why a report was not accepted (不予受理), what
# material the unit asks for (补充材料). Every other note may be staff talk or the
# citizen's own comment, and stays off the public timeline.
_CITIZEN_NOTE_KINDS = frozenset({"reject", "pause"})
# The unit's reply becomes public once the centre has verified it (核查通过); a reopened
# ticket hides it again until the new reply is verified.
_REPLY_PUBLIC_STATES = frozenset({State.AWAITING_FEEDBACK, State.CLOSED, State.ARCHIVED})


@dataclass(frozen=True)
class PublicEvent:
    """One line of a ticket's history as its citizen may read it: never who, never internal notes."""

    kind: str
    at: dt.datetime
    unit_name: str
    note: str
    until: dt.datetime | None
    rating: str


def ticket_for_citizen(*, number: str) -> Ticket | None:
    """Return the ticket with that number, or None; the caller has checked its access code."""
    return Ticket.objects.select_related("category", "unit").filter(number=number).first()


def ticket_public_events(ticket: Ticket) -> list[PublicEvent]:
    """Return the public lines of the ticket's history, oldest first."""
    events = ticket.events.filter(is_public=True).select_related("unit").order_by("id")
    return [public_event(event) for event in events]


def public_event(event: TicketEvent) -> PublicEvent:
    """Return what the citizen may read of one public event (its unit joined by the caller)."""
    return PublicEvent(
        kind=event.kind, at=event.at, unit_name=event.unit.name if event.unit else "",
        note=event.note if event.kind in _CITIZEN_NOTE_KINDS else "",
        until=_parse_time(event.payload.get("until")), rating=event.payload.get("rating", ""),
    )


def merged_duplicates(ticket: Ticket) -> list[Ticket]:
    """Return every duplicate merged into the ticket, at any depth (a duplicate's own first)."""
    found, seen, todo = [], {ticket.id}, [ticket.id]
    while todo:
        merged = list(Ticket.objects.filter(merged_into_id__in=todo).exclude(id__in=seen))
        todo = [t.id for t in merged]
        seen.update(todo)
        found += merged
    return found


def merge_carrier(ticket: Ticket) -> Ticket | None:
    """Return the ticket that carries a merged one: the end of its merge chain (None unless merged)."""
    carrier, seen = ticket, {ticket.id}
    while carrier.state == State.MERGED and carrier.merged_into_id and carrier.merged_into_id not in seen:
        seen.add(carrier.merged_into_id)
        carrier = Ticket.objects.select_related("category", "unit").get(id=carrier.merged_into_id)
    return carrier if carrier is not ticket else None


def ticket_public_deadline(ticket: Ticket) -> dt.datetime | None:
    """Return when the unit's reply is due, while its clock runs; else None."""
    if ticket.state in RESOLVE_RUNNING_STATES and ticket.paused_at is None:
        return ticket.resolve_due_at
    return None


def ticket_public_reply(ticket: Ticket) -> str:
    """Return the unit's reply once the centre verified it, else ""."""
    return ticket.reply if ticket.state in _REPLY_PUBLIC_STATES else ""


def _parse_time(value: object) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


# -- the live dispatch desk and unit queues ---------------------------------------------

DESK_STATES = (State.REPORTED, State.ACCEPTED)
QUEUE_ROWS = 100


def _most_urgent_first(tickets: QuerySet[Ticket], now: dt.datetime) -> QuerySet[Ticket]:
    """Red cards first, then yellow, then the rest; newest first within each."""
    urgency = Case(
        When(due_at__lte=now, then=Value(0)), When(warn_at__lte=now, then=Value(1)), default=Value(2),
        output_field=IntegerField(),
    )
    return tickets.annotate(urgency=urgency).order_by("urgency", "-id")


def desk_queue(*, now: dt.datetime | None = None) -> QuerySet[Ticket]:
    """Return the centre's live queue: new reports and accepted or returned tickets, most urgent first."""
    tickets = Ticket.objects.filter(state__in=DESK_STATES).select_related("category")
    return _most_urgent_first(tickets, now or timezone.now())


@dataclass(frozen=True)
class DeskCounters:
    waiting: int
    reported_today: int
    at_risk: int


def desk_counters(*, now: dt.datetime | None = None) -> DeskCounters:
    """Return today's intake (local day), the tickets waiting for the centre, and those at risk
    (a yellow or red card on a running deadline) anywhere in the city."""
    now = now or timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return DeskCounters(
        waiting=Ticket.objects.filter(state__in=DESK_STATES).count(),
        reported_today=Ticket.objects.filter(reported_at__gte=midnight).count(),
        at_risk=Ticket.objects.filter(warn_at__lte=now).count(),
    )


@dataclass(frozen=True)
class Candidate:
    """A unit the desk suggests for a ticket, why, and how many open tickets it holds now."""

    unit: Unit
    reason: str
    open_load: int


def dispatch_candidates(ticket: Ticket, *, suggestion: routing.Suggestion | None = None) -> list[Candidate]:
    """Return the units the ticket most likely belongs to, best first, each with its reason.

    First the units that kept earlier tickets of this category and place after they had
    been returned (退单): the bounce is not repeated. Then the unit the text's words point
    to (keyword rules), the street or district named in the address of a territorial
    category (the street first), and the category's usual unit. A unit that returned such
    tickets before goes last, saying so. Each comes with its open load, so the
    dispatcher sees a unit already drowning.
    """
    places = sorted(
        (u for u in Unit.objects.filter(is_active=True, kind__in=(UnitKind.STREET, UnitKind.DISTRICT))
         if u.name and ticket.address and u.name in ticket.address),
        key=lambda u: (u.kind != UnitKind.STREET, u.path),
    )
    history = routing.bounces(ticket, places)
    found: dict[int, tuple[Unit, str]] = {}

    def offer(unit: Unit | None, reason: str) -> None:
        if unit is not None and unit.id not in found and unit.is_active and unit.kind != UnitKind.CENTRE:
            found[unit.id] = (unit, reason)

    kept_units = Unit.objects.in_bulk(list(history.kept_by))
    for unit_id, count in history.kept_by.most_common(3):
        offer(kept_units.get(unit_id), ngettext(
            "After returns, %(count)d earlier ticket of this category here ended with this unit.",
            "After returns, %(count)d earlier tickets of this category here ended with this unit.", count,
        ) % {"count": count})
    suggestion = suggestion or routing.suggest(ticket.description)
    if suggestion is not None and suggestion.unit is not None:
        offer(suggestion.unit, suggestion.reason)
    if ticket.category.routing == Routing.TERRITORIAL:
        for unit in places:
            offer(unit, gettext("The address is in %(place)s.") % {"place": unit.name})
    offer(dispatch_suggestion(ticket), gettext("The usual unit for %(category)s.") % {"category": ticket.category.name})
    candidates = list(found.values())
    for index, (unit, reason) in enumerate(candidates):
        returned = history.returned_by.get(unit.id, 0)
        if returned and unit.id not in history.kept_by:
            candidates[index] = (unit, reason + " " + ngettext(
                "It returned %(count)d such ticket here before.",
                "It returned %(count)d such tickets here before.", returned,
            ) % {"count": returned})
    candidates.sort(key=lambda c: c[0].id in history.returned_by and c[0].id not in history.kept_by)
    loads = dict(
        Ticket.objects.filter(unit_id__in=[u.id for u, _r in candidates], state__in=RESOLVE_RUNNING_STATES)
        .values_list("unit_id").annotate(n=Count("id")).values_list("unit_id", "n")
    ) if candidates else {}
    return [Candidate(unit, reason, loads.get(unit.id, 0)) for unit, reason in candidates]


def category_suggestion(ticket: Ticket, suggestion: routing.Suggestion | None) -> routing.Suggestion | None:
    """Return the suggestion of the ticket's words (routing.suggest) when its category is not the ticket's own."""
    return suggestion if suggestion is not None and suggestion.category.id != ticket.category_id else None


def unit_queue(unit: Unit, *, subtree: bool, now: dt.datetime | None = None) -> QuerySet[Ticket]:
    """Return a unit's (or its subtree's) tickets to sign for or handle, most urgent first."""
    tickets = Ticket.objects.filter(state__in=RESOLVE_RUNNING_STATES)
    if subtree:
        tickets = tickets.filter(unit__path__startswith=unit.path)
    else:
        tickets = tickets.filter(unit=unit)
    sent_back = TicketEvent.objects.filter(ticket=OuterRef("pk"), kind="send_back", to_state=OuterRef("state"))
    tickets = tickets.select_related("category", "unit").annotate(was_sent_back=Exists(sent_back))
    return _most_urgent_first(tickets, now or timezone.now())


def last_event_id() -> int:
    """The newest event's id: a page rendered now resumes its socket after it."""
    return TicketEvent.objects.aggregate(last=Max("id"))["last"] or 0
