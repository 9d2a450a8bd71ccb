"""What Open311 clients read: the services (our categories), requests (tickets) and their updates.

A 12345 report often says who the citizen is and what happened to them, so no answer
ever carries a reporter's name, phone or email, and the text written about a ticket —
its description and address, the unit's reply or the reason it was refused, the
details of its updates, a photo link — goes only to the client whose key sent that
ticket. Everyone else reads the service, the state, the unit in charge, the times and
a location rounded to 3 decimals (about 100 m).
"""

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext

from departments.models import Category, CategoryAttribute
from departments.selectors import leaf_categories
from tickets.citizen.timeline import describe
from tickets.errors import NotFound
from tickets.models import OPEN_STATES, Channel, InboundMessage, Open311Key, State, Ticket, TicketEvent
from tickets.selectors import public_event, ticket_public_deadline, ticket_public_reply

# The spec's limits: at most 1,000 requests an answer, the last 90 days by default.
MAX_RESULTS = 1000
WINDOW = dt.timedelta(days=90)
_PUBLIC_PRECISION = Decimal("0.001")
CLOSED_STATES = frozenset(State.values) - OPEN_STATES


def open311_status(state: str) -> str:
    return "open" if state in OPEN_STATES else "closed"


def _iso(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def open311_key_in_use(name: str) -> bool:
    """Whether the client `name` has a working key (a client has one at a time)."""
    return Open311Key.objects.filter(name=name, revoked_at__isnull=True).exists()


# -- services ------------------------------------------------------------------------------

def open311_services() -> list[dict]:
    """Return the service list: every category that takes reports, grouped by its parent."""
    categories = (
        leaf_categories()
        .annotate(has_attributes=Exists(CategoryAttribute.objects.filter(category=OuterRef("pk"))))
        .order_by("parent__code", "code")
    )
    return [
        {
            "service_code": c.code, "service_name": c.name, "description": c.description or str(c),
            "metadata": c.has_attributes, "type": "realtime", "keywords": c.keywords,
            "group": c.parent.name if c.parent else "",
        }
        for c in categories
    ]


def open311_service_definition(code: str) -> dict:
    """Return the service definition: the category's questions with their datatypes and choices."""
    category = leaf_categories().filter(code=code).first()
    if category is None:
        raise NotFound(gettext("No service %(code)s.") % {"code": code})
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": a.variable, "code": a.code, "datatype": a.datatype, "required": a.required,
                "datatype_description": a.datatype_description, "order": a.order, "description": a.description,
                "values": [{"key": v["key"], "name": v["name"]} for v in a.values or []],
            }
            for a in category.attributes.order_by("order", "id")
        ],
    }


# -- requests ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RequestQuery:
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    offset: int = 0
    limit: int = MAX_RESULTS
    # Ticket numbers: when given, the only filter (the spec's service_request_id).
    numbers: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()


def open311_request_list(query: RequestQuery) -> list[Ticket]:
    """Return one page of the requests matching the query, newest first.

    A window of report dates walked newest first on `ticket_reported_at`, stopping at
    the page's end: no count, and no more rows read than the page needs.
    """
    tickets = Ticket.objects.select_related("category", "unit").annotate(merged_into_number=F("merged_into__number"))
    if query.numbers:
        tickets = tickets.filter(number__in=query.numbers)
    else:
        if query.start is not None:
            tickets = tickets.filter(reported_at__gte=query.start)
        if query.end is not None:
            tickets = tickets.filter(reported_at__lte=query.end)
        if query.service_codes:
            # Ids, not a subquery: the planner then knows how rare the categories are and
            # reads a rare one from ticket_category_id instead of walking the whole window.
            ids = list(Category.objects.filter(code__in=query.service_codes).values_list("id", flat=True))
            if not ids:
                return []
            tickets = tickets.filter(category_id__in=ids)
        if set(query.statuses) == {"open"}:
            tickets = tickets.filter(state__in=OPEN_STATES)
        elif set(query.statuses) == {"closed"}:
            tickets = tickets.filter(state__in=CLOSED_STATES)
    return list(tickets.order_by("-reported_at", "-id")[query.offset:query.offset + query.limit])


def open311_request(number: str) -> Ticket:
    """Return the request with that number; NotFound when there is none."""
    tickets = open311_request_list(RequestQuery(numbers=(number,)))
    if not tickets:
        raise NotFound(gettext("No request %(number)s.") % {"number": number})
    return tickets[0]


def submitted_by(key: Open311Key | None, *, ticket_ids: list[int]) -> dict[int, InboundMessage]:
    """Return, by ticket id, the messages with which this key's client sent any of those tickets."""
    if key is None or not ticket_ids:
        return {}
    messages = InboundMessage.objects.filter(
        channel=Channel.OPEN311, outcome=InboundMessage.Outcome.OPENED, sender=key.name, ticket_id__in=ticket_ids,
    )
    return {message.ticket_id: message for message in messages}


def open311_requests_as_seen(tickets: list[Ticket], *, key: Open311Key | None) -> list[dict]:
    """Return the tickets as Open311 requests, each as the client with `key` may see it."""
    own = submitted_by(key, ticket_ids=[t.id for t in tickets])
    reasons = _reject_reasons([t for t in tickets if t.id in own and t.state in (State.REJECTED, State.ARCHIVED)])
    return [_request(t, own.get(t.id), reasons.get(t.id, "")) for t in tickets]


def _reject_reasons(tickets: list[Ticket]) -> dict[int, str]:
    if not tickets:
        return {}
    events = TicketEvent.objects.filter(ticket_id__in=[t.id for t in tickets], kind="reject").order_by("id")
    return {ticket_id: note for ticket_id, note in events.values_list("ticket_id", "note")}


def _status_notes(ticket: Ticket, is_own: bool, reject_reason: str) -> str:
    merged_into = getattr(ticket, "merged_into_number", None)
    if merged_into:
        return gettext("Merged into %(number)s") % {"number": merged_into}
    if not is_own:
        return ""
    return ticket_public_reply(ticket) or reject_reason


def _coordinate(value: Decimal | None, *, exact: bool) -> float | None:
    if value is None:
        return None
    return float(value if exact else value.quantize(_PUBLIC_PRECISION))


def _request(ticket: Ticket, message: InboundMessage | None, reject_reason: str) -> dict:
    is_own = message is not None
    return {
        "service_request_id": ticket.number,
        "status": open311_status(ticket.state),
        "status_notes": _status_notes(ticket, is_own, reject_reason),
        "service_name": ticket.category.name,
        "service_code": ticket.category.code,
        "description": ticket.description if is_own else "",
        "agency_responsible": ticket.unit.name if ticket.unit else "",
        "service_notice": "",
        "requested_datetime": _iso(ticket.reported_at),
        "updated_datetime": _iso(ticket.updated_at),
        "expected_datetime": _iso(ticket_public_deadline(ticket)),
        "address": ticket.address if is_own else "",
        "address_id": "",
        "zipcode": "",
        "lat": _coordinate(ticket.lat, exact=is_own),
        "long": _coordinate(ticket.lng, exact=is_own),
        "media_url": message.pictures[0] if is_own and message.pictures else "",
    }


def open311_token(token: str) -> dict:
    """Return the request a POST's token stands for."""
    message = (
        InboundMessage.objects.filter(channel=Channel.OPEN311, external_id=token).select_related("ticket").first()
    )
    if message is None:
        raise NotFound(gettext("No token %(token)s.") % {"token": token})
    return {"service_request_id": message.ticket.number, "token": token}


# -- updates (FixMyStreet's servicerequestupdates) -----------------------------------------

def open311_updates(*, start: dt.datetime, end: dt.datetime, offset: int, limit: int,
                    key: Open311Key | None) -> list[dict]:
    """Return one page of the public history lines in the window, oldest first.

    Each line a citizen may see on the tracking page is an update; its wording is the
    tracking page's, and its details (a refusal's reason, the verified reply, the
    citizen's own comment) go only to the client that sent the ticket.
    """
    events = list(
        TicketEvent.objects.filter(is_public=True, at__gte=start, at__lte=end)
        .select_related("ticket", "unit").order_by("at", "id")[offset:offset + limit]
    )
    own = submitted_by(key, ticket_ids=list({event.ticket_id for event in events}))
    return [_update(event, is_own=event.ticket_id in own) for event in events]


def _update(event: TicketEvent, *, is_own: bool) -> dict:
    line = describe(public_event(event))
    detail = ""
    if is_own:
        detail = {"verify": ticket_public_reply(event.ticket), "comment": event.note}.get(event.kind, line.detail)
    return {
        "update_id": str(event.id),
        "service_request_id": event.ticket.number,
        # FixMyStreet's words for the two states of the spec.
        "status": open311_status(event.to_state).upper(),
        "updated_datetime": _iso(event.at),
        "description": f"{line.text}: {detail}" if detail else line.text,
        "media_url": event.payload.get("media_url", "") if is_own else "",
    }


# -- for staff -----------------------------------------------------------------------------

def open311_ticket_answers(ticket: Ticket) -> list[tuple[str, str]]:
    """Return the questions the Open311 client answered with the ticket's report, with the answers."""
    message = ticket.inbound_messages.filter(
        channel=Channel.OPEN311, outcome=InboundMessage.Outcome.OPENED
    ).first()
    if message is None:
        return []
    kept = json.loads(message.raw)
    service_code = (kept["form"].get("service_code") or [""])[0]
    attributes = {a.code: a for a in CategoryAttribute.objects.filter(category__code=service_code)}
    rows = []
    for code, answer in kept["attributes"].items():
        values = answer if isinstance(answer, list) else [answer]
        attribute = attributes.get(code)
        if attribute is None:
            rows.append((code, ", ".join(values)))
        else:
            rows.append((attribute.description, ", ".join(attribute.choice_names.get(v, v) for v in values)))
    return rows
