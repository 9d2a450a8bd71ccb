"""Open311 writes: client keys, requests that become tickets, and citizens' updates to them.

A request becomes a ticket through `ticket_create`, as every channel's does; the form as
it came (less its api_key) and the answers to the service's questions are kept beside
it as an InboundMessage, in the same transaction, so nothing the client sent is lost
and the token given back finds the ticket.
"""

import datetime as dt
import json
import re
import secrets
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext

from departments.models import AttributeDatatype, Category, CategoryAttribute
from departments.selectors import leaf_categories
from tickets import routing
from tickets.errors import Conflict, InvalidInput, NotAllowed, NotFound
from tickets.intake.open311_selectors import open311_key_in_use, submitted_by
from tickets.models import Channel, InboundMessage, Open311Key, Ticket, TicketEvent, hash_open311_key
from tickets.services import ticket_comment, ticket_create
from tickets.validation import (
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_NOTE,
    clean_text,
    clean_web_address,
    field_error,
    normalize_phone,
)

Form = Mapping[str, list[str]]

KEY_BYTES = 32
MAX_STRING_ANSWER = 1000
MAX_MEDIA_URL = 1000
# A key's last use is written at most once a minute: a busy client must not turn each
# of its requests into a write on the same row.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
# A "+" sent unencoded in a query string arrives as a space: 2026-01-01T00:00:00 08:00.
_SPACED_OFFSET = re.compile(r"(\d) (\d\d:?\d\d)$")


# -- keys ---------------------------------------------------------------------------------

@transaction.atomic
def open311_key_create(*, name: str) -> tuple[Open311Key, str]:
    """Create a key for the client `name`; return it with the key itself, which is never stored."""
    name = clean_text(name, field="name", max_length=100, required=True)
    if open311_key_in_use(name):
        raise Conflict(gettext("This client already has a working key; revoke it first."))
    raw = secrets.token_urlsafe(KEY_BYTES)
    key = Open311Key.objects.create(name=name, prefix=raw[:8], key_hash=hash_open311_key(raw))
    return key, raw


def open311_key_revoke(*, key_id: int) -> Open311Key:
    """Revoke the key from now on (in other processes within KEY_SECONDS); its client's
    earlier requests keep its name."""
    Open311Key.objects.filter(id=key_id, revoked_at__isnull=True).update(revoked_at=timezone.now())
    forget_keys()
    transaction.on_commit(forget_keys)  # and a read meanwhile by another thread
    return Open311Key.objects.get(id=key_id)


# A working key is looked up once in this many seconds per process: a client posting
# hundreds of reports a second costs a query now and then, and a revoked key stops
# working everywhere within this time (at once in the process that revoked it).
KEY_SECONDS = 5.0
# key hash -> (the working key, when it was read, monotonic seconds)
_working_keys: dict[str, tuple[Open311Key, float]] = {}


def forget_keys() -> None:
    _working_keys.clear()


def open311_key_check(raw: str | None) -> Open311Key:
    """Return the working key `raw` is and note its use; NotAllowed for none, an unknown or a revoked one."""
    if not raw:
        raise NotAllowed(gettext("This needs an api_key."))
    digest, read_at = hash_open311_key(raw), time.monotonic()
    known = _working_keys.get(digest)
    if known is None or read_at - known[1] > KEY_SECONDS:
        key = Open311Key.objects.filter(key_hash=digest, revoked_at__isnull=True).first()
        if key is None:
            _working_keys.pop(digest, None)
            raise NotAllowed(gettext("The api_key is unknown or revoked."))
        known = _working_keys[digest] = (key, read_at)
    key = known[0]
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        Open311Key.objects.filter(id=key.id).update(last_used_at=now)
        key.last_used_at = now
    return key


# -- values as Open311 clients send them ---------------------------------------------------

def first(form: Form, name: str) -> str:
    """Return the form's first value for `name`, stripped, or ""."""
    values = form.get(name) or [""]
    return values[0].strip()


def parse_w3c_datetime(value: str, *, field: str) -> dt.datetime:
    """Return the aware datetime of a W3C/ISO 8601 value; a date alone is its local midnight."""
    value = _SPACED_OFFSET.sub(r"\1+\2", value.strip())
    try:
        parsed = parse_datetime(value)
        if parsed is None and (day := parse_date(value)) is not None:
            parsed = dt.datetime.combine(day, dt.time())
    except ValueError:
        parsed = None
    if parsed is None:
        message = gettext("Use an ISO 8601 date and time, e.g. 2026-01-31T08:00:00+08:00.")
        raise field_error(field, message)
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def _media_url(form: Form) -> str:
    url = first(form, "media_url")
    return clean_web_address(url, field="media_url", max_length=MAX_MEDIA_URL) if url else ""


# -- the service's questions -------------------------------------------------------------

def attribute_answers_given(form: Form) -> dict[str, list[str]]:
    """Return every attribute[CODE] and attribute[CODE][] of the form, by code."""
    given: dict[str, list[str]] = {}
    for name, values in form.items():
        match = _ATTRIBUTE.match(name)
        if match:
            given.setdefault(match.group(1), []).extend(v.strip() for v in values)
    return given


def clean_attribute_answers(category: Category, given: dict[str, list[str]]) -> dict[str, str | list[str]]:
    """Return the answers to the category's questions, checked against each datatype.

    Required questions must be answered; codes the category does not ask are ignored,
    as the spec lets clients send more than is asked.
    """
    answers: dict[str, str | list[str]] = {}
    for attribute in category.questions:
        values = [v for v in given.get(attribute.code, []) if v]
        field = f"attribute[{attribute.code}]"
        if not values:
            if attribute.required:
                raise field_error(field, gettext("This field is required."))
            continue
        answers[attribute.code] = _clean_answer(attribute, values, field)
    return answers


def _clean_answer(attribute: CategoryAttribute, values: list[str], field: str) -> str | list[str]:
    choices = attribute.choice_names
    if attribute.datatype == AttributeDatatype.MULTIVALUELIST:
        values = list(dict.fromkeys(values))
        unknown = [v for v in values if v not in choices]
        if unknown:
            raise field_error(field, gettext("Not among the choices: %(values)s.") % {"values": ", ".join(unknown)})
        return values
    if len(values) > 1:
        raise field_error(field, gettext("Give one value."))
    value = values[0]
    if attribute.datatype == AttributeDatatype.SINGLEVALUELIST and value not in choices:
        raise field_error(field, gettext("Not among the choices: %(values)s.") % {"values": value})
    if attribute.datatype == AttributeDatatype.NUMBER:
        try:
            if not Decimal(value).is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise field_error(field, gettext("Must be a number.")) from None
    if attribute.datatype == AttributeDatatype.DATETIME:
        return timezone.localtime(parse_w3c_datetime(value, field=field)).isoformat()
    limit = MAX_DESCRIPTION if attribute.datatype == AttributeDatatype.TEXT else MAX_STRING_ANSWER
    return clean_text(value, field=field, max_length=limit, required=True)


def service(code: str) -> Category | None:
    """Return the category a service code names, with its questions (`questions`), or None.

    Every POST asks, and services change seldom: they are remembered for a while
    (tickets.routing.remembered); a code not among them is looked up at once.
    """
    services = routing.remembered("open311-services", lambda: {c.code: c for c in _services()})
    found = services.get(code)
    return found if found is not None else _services().filter(code=code).first()


def _services():
    asked = CategoryAttribute.objects.filter(variable=True).order_by("order", "id")
    return leaf_categories().prefetch_related(Prefetch("attributes", queryset=asked, to_attr="questions"))


# -- requests and updates ------------------------------------------------------------------

@transaction.atomic
def open311_request_create(*, key: Open311Key, form: Form) -> tuple[Ticket, str]:
    """Open a ticket from an Open311 POST and return it with the token that finds it again."""
    code = first(form, "service_code")
    if not code:
        raise field_error("service_code", gettext("This field is required."))
    category = service(code)
    if category is None:
        raise field_error("service_code", gettext("No service %(code)s.") % {"code": code})
    lat, lng = first(form, "lat"), first(form, "long")
    address, address_id = first(form, "address_string"), first(form, "address_id")
    if not (lat or lng or address or address_id):
        raise field_error("lat", gettext("Give lat and long, address_string or address_id."))
    if (lat or lng) and not (lat and lng):
        raise field_error("long" if lat else "lat", gettext("Give both lat and long."))
    answers = clean_attribute_answers(category, attribute_answers_given(form))
    media_url = _media_url(form)
    try:
        phone = normalize_phone(first(form, "phone"))
    except InvalidInput:
        phone = ""  # a number we cannot call back stays in the raw form, for staff to read
    name = " ".join(part for part in (first(form, "first_name"), first(form, "last_name")) if part)
    description = first(form, "description") or category.name

    token = secrets.token_hex(16)
    kept = {name: values for name, values in form.items() if name != "api_key"}
    ticket, _code = ticket_create(
        channel=Channel.OPEN311, actor=None, category=category, description=description,
        address=address or (gettext("Address ID %(id)s") % {"id": address_id} if address_id else ""),
        lat=lat or None, lng=lng or None, reporter_name=name[:MAX_NAME], reporter_phone=phone,
        message=InboundMessage(
            channel=Channel.OPEN311, external_id=token, outcome=InboundMessage.Outcome.OPENED, sender=key.name,
            text=description, pictures=[media_url] if media_url else [],
            raw=json.dumps({"form": kept, "attributes": answers}, ensure_ascii=False),
        ),
    )
    return ticket, token


@transaction.atomic
def open311_update_create(*, key: Open311Key, form: Form) -> TicketEvent:
    """Add a citizen's update (FixMyStreet's POST servicerequestupdates) to an open ticket it sent."""
    number = first(form, "service_request_id")
    if not number:
        raise field_error("service_request_id", gettext("This field is required."))
    description = clean_text(first(form, "description"), field="description", max_length=MAX_NOTE, required=True)
    media_url = _media_url(form)
    ticket_id = Ticket.objects.filter(number=number).values_list("id", flat=True).first()
    if ticket_id is None:
        raise NotFound(gettext("No request %(number)s.") % {"number": number})
    if not submitted_by(key, ticket_ids=[ticket_id]):
        raise NotAllowed(gettext("Only the client that sent request %(number)s may update it.") % {"number": number})
    return ticket_comment(
        ticket_id=ticket_id, note=description,
        payload={"open311_client": key.name, "update_id": first(form, "update_id"), "media_url": media_url},
        refused=gettext("Request %(number)s is closed and takes no more updates.") % {"number": number},
    )

