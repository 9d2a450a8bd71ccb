"""Every change to a ticket, the same for each entry point (API, admin, pages, webhooks, tasks).

A transition service locks the ticket row, checks role and unit, then state, applies
the django-fsm transition, saves and appends one TicketEvent, all in one transaction:
of two concurrent transitions on a ticket exactly one wins; the other waits for the
lock, finds the new state and gets Conflict.
"""

import datetime as dt
from collections.abc import Sequence

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from departments import calendar
from departments.models import Category, Unit, UnitKind
from departments.selectors import staff_scope
from feedback.models import RatingVia, ReopenFlag
from tickets import broadcast, notifications, routing, writes
from tickets.attachments import CheckedPhoto, attachments_store
from tickets.errors import Conflict, InvalidInput, NotAllowed, NotFound
from tickets.models import (
    Attachment,
    Channel,
    DeadlineAlert,
    ExtensionRequest,
    InboundMessage,
    Notification,
    PersonalDataAccess,
    Rating,
    ReturnReason,
    State,
    Supporter,
    Ticket,
    TicketEvent,
    new_access_code,
)
from tickets.selectors import (
    dispatch_candidates,
    may_reveal_reporter,
    merge_carrier,
    merged_duplicates,
    pending_extension,
    ticket_visible_to,
)
from tickets.validation import (
    MAX_ADDRESS,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_NOTE,
    clean_coordinate,
    clean_text,
    normalize_phone,
)


def _next_ids() -> tuple[int, int | None]:
    """Reserve the next ticket id, which also makes the ticket's number, and its report event's id.

    On PostgreSQL the identity sequences hand out ids without any lock, so concurrent
    intake never waits on a counter row. SQLite (the embedded demo) opens write
    transactions IMMEDIATE, which serialises writers, so MAX + 1 is safe there; the
    event takes its id as it is saved.
    """
    if connection.vendor == "postgresql":
        ticket_id, event_id = writes.next_ids(Ticket, TicketEvent)
        return ticket_id, event_id
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM tickets_ticket")
        return cursor.fetchone()[0], None


def ticket_number(ticket_id: int, reported_at: dt.datetime) -> str:
    """Return the human-facing number: the local report date and the id (2611240000123)."""
    return f"{timezone.localtime(reported_at):%y%m%d}{ticket_id:07d}"


def ticket_create(
    *,
    category: Category,
    description: str,
    channel: str,
    actor=None,
    address: str = "",
    lat: object = None,
    lng: object = None,
    reporter_name: str = "",
    reporter_phone: str = "",
    reported_at: dt.datetime | None = None,
    photos: Sequence[CheckedPhoto] = (),
    message: InboundMessage | None = None,
) -> tuple[Ticket, str]:
    """Open a ticket from any channel and return it with the citizen's access code.

    The access code is shown once (page, SMS, operator read-back) and stored hashed.
    `actor=None` is a citizen's own channel (form, webhook); staff must be the centre's.
    `message` is the unsaved message a machine channel delivered: it is kept with the
    ticket, and the citizen is answered where it came from (a Weibo post's comments).
    """
    if actor is not None and not staff_scope(actor).is_operator:
        raise NotAllowed(gettext("Only the centre's operators and dispatchers enter tickets."))
    if channel not in Channel.values:
        raise InvalidInput(
            gettext("Unknown channel %(channel)r.") % {"channel": channel},
            fields={"channel": [gettext("Unknown channel.")]},
        )
    _check_leaf(category)
    description = clean_text(description, field="description", max_length=MAX_DESCRIPTION, required=True)
    address = clean_text(address, field="address", max_length=MAX_ADDRESS, required=False)
    reporter_name = clean_text(reporter_name, field="name", max_length=MAX_NAME, required=False)
    phone = normalize_phone(reporter_phone)
    if channel == Channel.PHONE and not phone:
        raise InvalidInput(
            "A phone ticket needs the caller's number.", fields={"phone": [gettext("This field is required.")]}
        )
    lat_value = clean_coordinate(lat, field="lat", limit=90)
    lng_value = clean_coordinate(lng, field="lng", limit=180)
    if (lat_value is None) != (lng_value is None):
        raise InvalidInput(
            gettext("Give both lat and lng, or neither."),
            fields={"location": [gettext("Give both latitude and longitude, or neither.")]},
        )

    # Checked, the report is written whole or not at all; a caller's transaction (a
    # webhook's) gets no savepoint, since a failure now fails that caller too.
    # The ticket, the message, the report event and the receipt are one statement
    # (tickets.writes): every channel's report costs the same few round trips.
    with transaction.atomic(savepoint=False):
        now = reported_at or timezone.now()
        ticket_id, event_id = _next_ids()
        ticket = Ticket(
            id=ticket_id, channel=channel, category=category, description=description,
            address=address, lat=lat_value, lng=lng_value, reporter_name=reporter_name,
            reporter_phone=phone, reported_at=now,
        )
        ticket.number = ticket_number(ticket.id, now)
        code = new_access_code()
        ticket.set_access_code(code)
        ticket.start_clock()
        if message is not None:
            message.ticket = ticket
        event = TicketEvent.new(ticket, "report", "", actor=actor, payload={"channel": channel}, at=now, id=event_id)
        receipts = notifications.build(event, Notification.Kind.ACKNOWLEDGEMENT,
                                       notifications.citizen_recipients(ticket, opening=message))
        rows = [ticket, *([message] if message is not None else []), event]
        if event_id is None:  # SQLite: the event takes its id as it is saved; the receipts point to it then
            writes.insert_together(*rows)
            for receipt in receipts:
                receipt.event = event
            writes.insert_together(ignore_conflicts=receipts)
        else:
            writes.insert_together(*rows, ignore_conflicts=receipts)
        attachments_store(ticket=ticket, kind=Attachment.Kind.REPORT, photos=list(photos), actor=actor)
        broadcast.announce([event])
        notifications.send_after_commit(receipts)
    return ticket, code


def _locked(ticket_id: int) -> Ticket:
    try:
        return (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("category")
            .get(id=ticket_id)
        )
    except Ticket.DoesNotExist:
        raise NotFound(gettext("No such ticket.")) from None


def refuse_if_archived(ticket: Ticket) -> None:
    """Refuse any change to an archived ticket (归档): its record is read-only forever.

    Every service that writes to a ticket or to its record calls this once it holds the
    ticket's lock; entry points may call it first, so that a change to an archived
    ticket is refused as such whatever else is wrong with it. PostgreSQL refuses the
    same writes to anything else (migration tickets.0014).
    """
    if ticket.state == State.ARCHIVED:
        raise Conflict(gettext("Ticket %(number)s is archived: its record is read-only.") % {"number": ticket.number})


def _transition(ticket: Ticket, name: str, actor, **kwargs) -> str:
    """Check role and unit (403) and then state (409); apply the transition; return the old state.

    `actor=None` is the system, or a citizen whose link, code or phone the entry point
    has already verified.
    """
    method = getattr(ticket, name)
    if actor is None and name in _PEOPLE_ONLY:
        raise NotAllowed(gettext("Only a member of the unit may %(action)s a ticket.") % {"action": _label(name)})
    if actor is not None:
        permission = next(iter(method._django_fsm.transitions.values())).permission
        if not permission(ticket, actor):
            raise NotAllowed(gettext("Your role or unit may not %(action)s this ticket.") % {"action": _label(name)})
    refuse_if_archived(ticket)
    if not can_proceed(method, check_conditions=False):
        raise Conflict(gettext("A ticket that is %(state)s cannot be %(done)s.") % {
            "state": ticket.get_state_display(), "done": _label(name, past=True),
        })
    if not can_proceed(method):
        raise Conflict(str(_REFUSED_BY_CONDITION[name]))
    from_state = ticket.state
    method(**kwargs)
    ticket.save()
    return from_state


# A unit's own acts: nothing automatic may sign, return, extend, pause or answer for a unit.
_PEOPLE_ONLY = frozenset({"claim", "return_to_centre", "request_extension", "pause", "resolve"})

_REFUSED_BY_CONDITION = {
    "return_to_centre": _("The centre dispatched this ticket as final (审定): it cannot be returned."),
    "pause": _("The ticket is already paused for the citizen's material."),
    "resume": _("The ticket is not paused."),
}

# Each transition's verb and participle, for the refusals that name it.
_LABELS = {
    "return_to_centre": (pgettext_lazy("verb", "return"), pgettext_lazy("done", "returned")),
    "send_back": (pgettext_lazy("verb", "send back"), pgettext_lazy("done", "sent back")),
    "request_extension": (pgettext_lazy("verb", "request an extension for"),
                          pgettext_lazy("done", "given an extension request")),
    "expire_feedback": (pgettext_lazy("verb", "expire the feedback of"), pgettext_lazy("done", "expired")),
    "rate": (pgettext_lazy("verb", "rate"), pgettext_lazy("done", "rated")),
    "accept": (pgettext_lazy("verb", "accept"), pgettext_lazy("done", "accepted")),
    "reject": (pgettext_lazy("verb", "reject"), pgettext_lazy("done", "rejected")),
    "merge": (pgettext_lazy("verb", "merge"), pgettext_lazy("done", "merged")),
    "dispatch": (pgettext_lazy("verb", "dispatch"), pgettext_lazy("done", "dispatched")),
    "claim": (pgettext_lazy("verb", "claim"), pgettext_lazy("done", "claimed")),
    "resolve": (pgettext_lazy("verb", "resolve"), pgettext_lazy("done", "resolved")),
    "verify": (pgettext_lazy("verb", "verify"), pgettext_lazy("done", "verified")),
    "archive": (pgettext_lazy("verb", "archive"), pgettext_lazy("done", "archived")),
    "pause": (pgettext_lazy("verb", "pause"), pgettext_lazy("done", "paused")),
    "resume": (pgettext_lazy("verb", "resume"), pgettext_lazy("done", "resumed")),
}


def _label(name: str, *, past: bool = False) -> str:
    return str(_LABELS[name][1 if past else 0])


@transaction.atomic
def ticket_accept(*, ticket_id: int, actor) -> Ticket:
    """Accept a reported ticket as a valid request (受理)."""
    ticket = _locked(ticket_id)
    from_state = _transition(ticket, "accept", actor, at=timezone.now())
    TicketEvent.record(ticket, "accept", from_state, actor=actor)
    return ticket


@transaction.atomic
def ticket_reject(*, ticket_id: int, actor, reason: str) -> Ticket:
    """Refuse a report (不予受理); the reason is shown to the citizen."""
    reason = clean_text(reason, field="reason", max_length=MAX_NOTE, required=True)
    ticket = _locked(ticket_id)
    from_state = _transition(ticket, "reject", actor, at=timezone.now())
    TicketEvent.record(ticket, "reject", from_state, actor=actor, note=reason)
    return ticket


@transaction.atomic
def ticket_merge(*, ticket_id: int, into_id: int, actor) -> Ticket:
    """Fold a duplicate into another open ticket, which gains its support (合并)."""
    if ticket_id == into_id:
        message = gettext("A ticket cannot be merged into itself.")
        raise InvalidInput(message, fields={"into": [message]})
    # Lock both rows in id order so two merges crossing each other cannot deadlock.
    locked = {t.id: t for t in (_locked(i) for i in sorted((ticket_id, into_id)))}
    ticket, into = locked[ticket_id], locked[into_id]
    if not into.is_open:
        message = gettext("Ticket %(number)s is %(state)s; merge into an open ticket.") % {
            "number": into.number, "state": into.get_state_display(),
        }
        raise Conflict(message, fields={"into": [message]})
    from_state = _transition(ticket, "merge", actor, into=into, at=timezone.now())
    Ticket.objects.filter(id=into.id).update(support_count=F("support_count") + 1 + ticket.support_count)
    into.refresh_from_db()
    TicketEvent.record(ticket, "merge", from_state, actor=actor, payload={"into": into.number})
    TicketEvent.record(
        into, "merge_in", into.state, actor=actor, payload={"ticket": ticket.number}, is_public=False
    )
    return ticket


def _check_leaf(category: Category) -> None:
    if not routing.takes_tickets(category):
        raise InvalidInput(
            gettext("Category %(code)r cannot take reports; choose one of its subcategories.") % {"code": category.code},
            fields={"category": [gettext("Choose an active leaf category.")]},
        )


@transaction.atomic
def ticket_dispatch(*, ticket_id: int, unit: Unit, actor, final: bool = False,
                    category: Category | None = None, matched: Sequence[str] = ()) -> Ticket:
    """Assign the ticket to a handling unit (派单); `final` (审定) forbids another return.

    `category` sorts the ticket on the way (a text that came with none, a citizen who
    chose wrongly): the unit's deadlines follow the new category's policy. `matched`
    are the words of a confident routing rule when the system dispatches directly (直派,
    `actor=None`). The desk's first suggestion, and whether it was followed, go into
    the event: the desk shows how often its suggestions are kept.
    """
    if not unit.is_active or unit.kind == UnitKind.CENTRE:
        raise InvalidInput(
            gettext("%(code)s cannot handle tickets.") % {"code": unit.code},
            fields={"unit": [gettext("Choose an active handling unit.")]},
        )
    if category is not None:
        _check_leaf(category)
    ticket = _locked(ticket_id)
    payload = {"final": final}
    candidates = dispatch_candidates(ticket)
    if candidates:
        payload.update(suggested=candidates[0].unit.code, suggestion_kept=candidates[0].unit.id == unit.id)
    if matched:
        payload.update(automatic=True, matched=list(matched))
    if category is not None and category.id != ticket.category_id:
        payload.update(category=category.code, previous_category=ticket.category.code)
        ticket.category = category
    from_state = _transition(ticket, "dispatch", actor, unit=unit, final=final, at=timezone.now())
    TicketEvent.record(ticket, "dispatch", from_state, actor=actor, unit=unit, payload=payload)
    return ticket


def _iso(at: dt.datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def ticket_dispatch_directly(*, ticket: Ticket, suggestion: routing.Suggestion | None) -> Ticket:
    """Dispatch a new ticket at once (直派) when its category allows it and the words were sure of the unit.

    The event has no actor and carries the words (`matched`); anything less leaves the
    ticket to the dispatcher, with the suggestion shown.
    """
    if (suggestion is None or not suggestion.is_confident or suggestion.unit is None
            or not suggestion.category.auto_dispatch or ticket.category_id != suggestion.category.id):
        return ticket
    return ticket_dispatch(ticket_id=ticket.id, unit=suggestion.unit, actor=None, matched=suggestion.words)


@transaction.atomic
def ticket_claim(*, ticket_id: int, actor) -> Ticket:
    """Sign for a dispatched ticket (签收)."""
    ticket = _locked(ticket_id)
    from_state = _transition(ticket, "claim", actor, at=timezone.now())
    # The deadline in force goes with the event: the statistics judge the claim by it
    # (feedback.stats.facts), and a later dispatch overwrites the ticket's column.
    TicketEvent.record(ticket, "claim", from_state, actor=actor, unit=ticket.unit,
                       payload={"claim_due_at": _iso(ticket.claim_due_at)})
    return ticket


def parse_return_reason(reason: object, comment: object = "") -> tuple[str, str]:
    """Return (reason code, explanation) from a code, its Chinese label, or free text.

    Free text is kept as "other" with the text as its explanation: nothing the unit
    wrote is lost. "other" without any explanation is refused.
    """
    text = clean_text(reason, field="reason", max_length=MAX_NOTE, required=True)
    comment = clean_text(comment, field="comment", max_length=MAX_NOTE, required=False)
    by_label = {str(label).split(" ")[0]: value for value, label in ReturnReason.choices}
    code = text if text in ReturnReason.values else by_label.get(text)
    if code is None:
        code, comment = ReturnReason.OTHER, " ".join(filter(None, (text, comment)))
    if code == ReturnReason.OTHER and not comment:
        raise InvalidInput(
            gettext("Say why the ticket is returned."),
            fields={"comment": [gettext("Required when the reason is other.")]},
        )
    return code, comment


@transaction.atomic
def ticket_return(*, ticket_id: int, actor, reason: str, comment: str = "") -> Ticket:
    """Hand the ticket back to the centre (退单); refused when it was dispatched as final."""
    code, comment = parse_return_reason(reason, comment)
    ticket = _locked(ticket_id)
    unit = ticket.unit
    from_state = _transition(ticket, "return_to_centre", actor, at=timezone.now())
    # The unit's open extension request leaves with the unit: the next unit asks for itself.
    _withdraw_extension_requests(ticket)
    TicketEvent.record(
        ticket, "return", from_state, actor=actor, unit=unit, note=comment,
        payload={"reason": code}, is_public=False,
    )
    return ticket


@transaction.atomic
def ticket_request_extension(*, ticket_id: int, actor, until: dt.datetime, reason: str) -> Ticket:
    """Ask the centre to move the resolve deadline to `until` (延期申请), before it passes.

    The category's policy bounds it: `until` at most its extension time after the
    current deadline, and no more than its number of approved extensions.
    """
    reason = clean_text(reason, field="reason", max_length=MAX_NOTE, required=True)
    ticket = _locked(ticket_id)
    now = timezone.now()
    from_state = _transition(ticket, "request_extension", actor)
    current, category = ticket.resolve_due_at, ticket.category
    if ticket.paused_at is not None:
        raise Conflict(gettext("The ticket is paused for the citizen's material: ask for an extension once it resumes."))
    if until <= now or (current is not None and until <= current):
        raise InvalidInput(
            gettext("The new deadline must be later than the current one."), fields={"until": [gettext("Too early.")]}
        )
    if current is not None and current <= now:
        raise Conflict(gettext("The resolve deadline has passed: an extension is asked for before it."))
    latest = calendar.due_at(current or now, *category.deadline("extension"))
    if until > latest:
        raise InvalidInput(
            gettext("The policy of %(code)s allows an extension to %(latest)s at the latest.") % {
                "code": category.code, "latest": f"{timezone.localtime(latest):%Y-%m-%d %H:%M}",
            },
            fields={"until": [gettext("Beyond the policy's limit.")]},
        )
    granted = ExtensionRequest.objects.filter(ticket=ticket, status=ExtensionRequest.Status.APPROVED).count()
    if granted >= category.max_extensions:
        raise Conflict(ngettext(
            "This ticket has had the %(count)d extension its policy allows.",
            "This ticket has had the %(count)d extensions its policy allows.",
            category.max_extensions,
        ) % {"count": category.max_extensions})
    # The ticket row is locked, so this check cannot race; the constraint backs it up.
    if pending_extension(ticket) is not None:
        raise Conflict(gettext("An extension request for this ticket is already waiting for the centre."))
    ExtensionRequest.objects.create(ticket=ticket, until=until, reason=reason, requested_by=actor, requested_at=now)
    TicketEvent.record(
        ticket, "request_extension", from_state, actor=actor, unit=ticket.unit, note=reason,
        payload={"until": until.isoformat()}, is_public=False,
    )
    return ticket


def _withdraw_extension_requests(ticket: Ticket) -> None:
    ExtensionRequest.objects.filter(ticket=ticket, status=ExtensionRequest.Status.PENDING).update(
        status=ExtensionRequest.Status.WITHDRAWN, decided_at=timezone.now()
    )


# While the resolve clock matters: claimed, or resolved and possibly sent back.
_EXTENSIBLE = frozenset({State.IN_PROGRESS, State.RESOLVED})


@transaction.atomic
def ticket_decide_extension(*, ticket_id: int, actor, approve: bool, note: str = "") -> Ticket:
    """Approve (the resolve deadline moves) or refuse the pending extension request."""
    note = clean_text(note, field="comment", max_length=MAX_NOTE, required=False)
    ticket = _locked(ticket_id)
    if actor is not None and not ticket.can_centre_act(actor):
        raise NotAllowed(gettext("Only the dispatch centre decides extension requests."))
    refuse_if_archived(ticket)
    request = pending_extension(ticket)
    if request is None:
        raise Conflict(gettext("This ticket has no pending extension request."))
    if ticket.state not in _EXTENSIBLE:
        raise Conflict(gettext("A ticket that is %(state)s has no resolve deadline to extend.") % {
            "state": ticket.get_state_display(),
        })
    if approve and ticket.paused_at is not None:
        raise Conflict(gettext("The ticket is paused for the citizen's material: decide once it resumes."))
    if approve and ticket.resolve_due_at is not None and request.until <= ticket.resolve_due_at:
        raise Conflict(gettext("The deadline is already at or after the date asked for: refuse the request instead."))
    now = timezone.now()
    request.status = ExtensionRequest.Status.APPROVED if approve else ExtensionRequest.Status.REFUSED
    request.decided_by, request.decided_at = actor, now
    request.save(update_fields=["status", "decided_by", "decided_at"])
    payload = {"until": request.until.isoformat()}
    if approve:
        payload["previous_due_at"] = ticket.resolve_due_at.isoformat() if ticket.resolve_due_at else None
        payload["previous_sla"] = ticket.sla  # a yellow or red card this clears
        ticket.extend_resolve_deadline(request.until)
        ticket.save()
    kind = "extension_approved" if approve else "extension_refused"
    event = TicketEvent.record(
        ticket, kind, ticket.state, actor=actor, unit=ticket.unit, note=note, payload=payload,
        is_public=approve,
    )
    if approve:
        notifications.notify(event, Notification.Kind.EXTENSION, notifications.citizen_recipients(ticket),
                             until=notifications.local(request.until))
    return ticket


@transaction.atomic
def ticket_pause(*, ticket_id: int, actor, reason: str, until: dt.datetime) -> Ticket:
    """Stop the resolve clock while the citizen supplies material (补充材料).

    The reason is what the citizen is asked for: it is shown to them and sent by SMS.
    A pause lasts until `until` at most (MINHU_PAUSE_MAX_DAYS), a ticket gets
    MINHU_PAUSE_MAX_COUNT of them; the sweep restarts the clock when one runs out.
    """
    reason = clean_text(reason, field="reason", max_length=MAX_NOTE, required=True)
    ticket = _locked(ticket_id)
    now = timezone.now()
    from_state = _transition(ticket, "pause", actor, at=now, until=until)
    # Checked after role and state, like every argument; raising rolls the pause back.
    if ticket.pause_count > settings.MINHU_PAUSE_MAX_COUNT:
        raise Conflict(ngettext(
            "This ticket has had the %(count)d pause allowed.", "This ticket has had the %(count)d pauses allowed.",
            settings.MINHU_PAUSE_MAX_COUNT,
        ) % {"count": settings.MINHU_PAUSE_MAX_COUNT})
    if ticket.resolve_due_at is not None and ticket.resolve_due_at <= now:
        raise Conflict(gettext("The resolve deadline has passed: a pause is asked for before it."))
    latest = now + dt.timedelta(days=settings.MINHU_PAUSE_MAX_DAYS)
    if until <= now or until > latest:
        raise InvalidInput(
            gettext("A pause ends after now and within %(days)d days.") % {"days": settings.MINHU_PAUSE_MAX_DAYS},
            fields={"until": [gettext("Too early.") if until <= now else gettext("Beyond the limit of a pause.")]},
        )
    event = TicketEvent.record(
        ticket, "pause", from_state, actor=actor, unit=ticket.unit, note=reason,
        payload={"until": until.isoformat()},
    )
    notifications.notify(event, Notification.Kind.PAUSE, notifications.citizen_recipients(ticket),
                         reason=reason, until=notifications.local(until))
    return ticket


@transaction.atomic
def ticket_resume(*, ticket_id: int, actor, note: str = "", at: dt.datetime | None = None) -> Ticket:
    """Restart the resolve clock; the deadline moves on by the time paused.

    `actor=None` is the sweep ending a pause that ran out, at its end (`at`).
    """
    note = clean_text(note, field="comment", max_length=MAX_NOTE, required=False)
    ticket = _locked(ticket_id)
    paused_from, due, warn = ticket.paused_at, ticket.resolve_due_at, ticket.resolve_warn_at
    from_state = _transition(ticket, "resume", actor, at=at or timezone.now())
    # The same deadline, moved: a card already raised on it (a yellow before the pause)
    # moves with it rather than being raised again by the sweep.
    DeadlineAlert.objects.filter(ticket=ticket, stage="resolve", due_at=due, warn_at=warn).update(
        due_at=ticket.resolve_due_at, warn_at=ticket.resolve_warn_at
    )
    TicketEvent.record(
        ticket, "resume", from_state, actor=actor, unit=ticket.unit, note=note,
        payload={"paused_at": paused_from.isoformat(), "automatic": actor is None,
                 "resolve_due_at": ticket.resolve_due_at.isoformat() if ticket.resolve_due_at else None},
    )
    return ticket


@transaction.atomic
def ticket_resolve(*, ticket_id: int, actor, reply: str, photos: Sequence[CheckedPhoto] = ()) -> Ticket:
    """Submit the unit's reply (办结), with photos of the result, for the centre to verify."""
    reply = clean_text(reply, field="reply", max_length=MAX_DESCRIPTION, required=True)
    ticket = _locked(ticket_id)
    from_state = _transition(ticket, "resolve", actor, reply=reply, at=timezone.now())
    attachments_store(ticket=ticket, kind=Attachment.Kind.REPLY, photos=list(photos), actor=actor)
    TicketEvent.record(ticket, "resolve", from_state, actor=actor, unit=ticket.unit, note=reply, is_public=False,
                       payload={"resolve_due_at": _iso(ticket.resolve_due_at)})
    return ticket


@transaction.atomic
def ticket_verify(*, ticket_id: int, actor) -> Ticket:
    """Accept the unit's reply (核查通过); the citizen sees it and may rate it."""
    ticket = _locked(ticket_id)
    from_state = _transition(ticket, "verify", actor, at=timezone.now())
    _withdraw_extension_requests(ticket)
    event = TicketEvent.record(ticket, "verify", from_state, actor=actor, unit=ticket.unit, note=ticket.reply)
    notifications.notify_result(event)
    return ticket


@transaction.atomic
def ticket_send_back(*, ticket_id: int, actor, reason: str) -> Ticket:
    """Refuse the unit's reply (核查不通过) and send the ticket back to it."""
    reason = clean_text(reason, field="reason", max_length=MAX_NOTE, required=True)
    ticket = _locked(ticket_id)
    from_state = _transition(ticket, "send_back", actor, at=timezone.now())
    TicketEvent.record(ticket, "send_back", from_state, actor=actor, unit=ticket.unit, note=reason, is_public=False)
    return ticket


@transaction.atomic
def ticket_rate(*, ticket_id: int, actor, rating: str, comment: str = "", via: str = "") -> Ticket:
    """Record the citizen's rating (回访); "unsatisfied" reopens it to the same unit (重办).

    `via` says how the rating came (feedback.models.RatingVia): the citizen's SMS answer
    or rating page, without staff; with an actor, an operator's return call. A reopen
    that brings the ticket to MINHU_REOPEN_FLAG_COUNT reopens or more flags it to the
    centre.
    """
    if rating not in Rating.values:
        raise InvalidInput(
            gettext("Unknown rating %(rating)r.") % {"rating": rating},
            fields={"rating": [gettext("Use one of %(values)s.") % {"values": ", ".join(Rating.values)}]},
        )
    comment = clean_text(comment, field="comment", max_length=MAX_NOTE, required=False)
    via = via or (RatingVia.PHONE if actor is not None else "")
    ticket = _locked(ticket_id)
    from_state = _transition(ticket, "rate", actor, rating=rating, at=timezone.now())
    kind = "reopen" if ticket.state == State.DISPATCHED else "rate"
    TicketEvent.record(
        ticket, kind, from_state, actor=actor, unit=ticket.unit, note=comment,
        payload={"rating": rating, "reopen_count": ticket.reopen_count, **({"via": via} if via else {})},
    )
    if kind == "reopen" and ticket.reopen_count >= settings.MINHU_REOPEN_FLAG_COUNT:
        _flag_reopened(ticket, comment)
    return ticket


def _flag_reopened(ticket: Ticket, comment: str) -> None:
    """Tell the centre of a ticket its citizen keeps sending back: a flag on its desk, and an event."""
    # The ticket row is locked: the flag is created once, whoever rates.
    ReopenFlag.objects.get_or_create(ticket=ticket)
    TicketEvent.record(
        ticket, "reopen_flagged", ticket.state, unit=ticket.unit, note=comment,
        payload={"reopen_count": ticket.reopen_count}, is_public=False,
    )


@transaction.atomic
def ticket_support(*, ticket_id: int, channel: str, identity: str, name: str = "",
                   message: InboundMessage | None = None) -> tuple[Ticket, bool]:
    """Count a citizen who raised an open ticket's problem again (a Weibo repost).

    The support goes to the ticket that carries a merged one, found again once its row
    is locked: a merge landing between the look and the lock is followed on. Each person
    counts once per ticket, and not at all when their own message opened it or a ticket
    merged into it (their report counted already). A finished ticket counts no one more.
    `message`, unsaved, is kept with the ticket that got the support, counted or not.
    Return that ticket and whether the person counted.
    """
    looked = Ticket.objects.filter(id=ticket_id).first()
    if looked is None:
        raise NotFound(gettext("No such ticket."))
    # A merge is final: the carrier is found without locks, so no merged row is locked on
    # the way, and a merge of the carrier itself that lands meanwhile is followed on.
    ticket = _locked((merge_carrier(looked) or looked).id)
    while ticket.state == State.MERGED and ticket.merged_into_id:
        ticket = _locked(ticket.merged_into_id)
    if message is not None:
        message.ticket = ticket
        message.save(force_insert=True)
    if not ticket.is_open or _opened_by(ticket, channel=channel, identity=identity):
        return ticket, False
    _supporter, created = Supporter.objects.get_or_create(
        ticket=ticket, channel=channel, identity=identity, defaults={"name": name[:100], "message": message}
    )
    if not created:
        return ticket, False
    Ticket.objects.filter(id=ticket.id).update(support_count=F("support_count") + 1)
    ticket.refresh_from_db(fields=["support_count", "updated_at"])
    TicketEvent.record(ticket, "support", ticket.state, payload={
        "channel": channel, "support_count": ticket.support_count,
    })
    return ticket, True


def _opened_by(ticket: Ticket, *, channel: str, identity: str) -> bool:
    """Whether the channel's `identity` sent the message that opened the ticket or one merged into it."""
    carried = [ticket.id, *(duplicate.id for duplicate in merged_duplicates(ticket))]
    return InboundMessage.objects.filter(
        channel=channel, sender=identity, outcome=InboundMessage.Outcome.OPENED, ticket__in=carried,
    ).exists()


@transaction.atomic
def ticket_comment(*, ticket_id: int, note: str, payload: dict, refused: str) -> TicketEvent:
    """Add a citizen's public comment to an open ticket (an Open311 client's update).

    `refused` is the message for a ticket that is finished (Conflict). The note is
    checked like every note; the caller has checked who may comment.
    """
    note = clean_text(note, field="description", max_length=MAX_NOTE, required=True)
    ticket = _locked(ticket_id)
    if not ticket.is_open:
        raise Conflict(refused)
    return TicketEvent.record(ticket, "comment", ticket.state, note=note, payload=payload)


@transaction.atomic
def ticket_expire_feedback(*, ticket_id: int, actor=None, now: dt.datetime | None = None) -> Ticket:
    """Close a ticket whose rating window passed with no rating (the system only: people get 403)."""
    now = now or timezone.now()
    ticket = _locked(ticket_id)
    from_state = _transition(ticket, "expire_feedback", actor, at=now)
    # Checked under the lock, after role and state: a reopen may have opened a new
    # window since the sweep looked. Raising rolls the transition back.
    if ticket.feedback_due_at and ticket.feedback_due_at > now:
        raise Conflict(gettext("The rating window of this ticket is still open."))
    TicketEvent.record(ticket, "expire_feedback", from_state, at=now)
    return ticket


@transaction.atomic
def ticket_archive(*, ticket_id: int, actor=None) -> Ticket:
    """File a closed, rejected or merged ticket for good (归档)."""
    ticket = _locked(ticket_id)
    from_state = _transition(ticket, "archive", actor, at=timezone.now())
    TicketEvent.record(ticket, "archive", from_state, actor=actor)
    return ticket


@transaction.atomic
def ticket_reveal_reporter(*, ticket_id: int, actor, reason: str = "") -> Ticket:
    """Let unit staff see a ticket's reporter in full, and log that they did.

    Return the ticket: the caller shows the name and phone on this one response only.
    """
    reason = clean_text(reason, field="reason", max_length=200, required=False)
    ticket = ticket_visible_to(actor).filter(id=ticket_id).first()
    if ticket is None:
        raise NotFound(gettext("No such ticket that you may see."))
    if not may_reveal_reporter(actor, ticket):
        raise NotAllowed(gettext("Only staff of the unit holding the ticket reveal its reporter."))
    PersonalDataAccess.objects.create(ticket=ticket, user=actor, reason=reason)
    return ticket
