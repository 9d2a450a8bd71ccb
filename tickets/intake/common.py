"""What every intake webhook checks, and how a delivered message is kept exactly once.

A delivery is taken only with a valid HMAC over its timestamp and raw body, inside the
time window; anything else is refused before the body is even parsed. A message is
kept once per (channel, message id): deliveries of one message are serialised by a
transaction-scoped advisory lock on its id, so the second finds the first's ticket
instead of opening another, and the unique constraint stands behind the lock.
"""

import datetime as dt
import hashlib
import hmac
import json
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from departments.models import Category, DeadlineUnit
from tickets import routing
from tickets.models import InboundMessage, Ticket
from tickets.validation import MAX_DESCRIPTION, field_error

MAX_ID = 100
# Text fields are bounded by the body limit (64 KiB); the message keeps all of it.
MAX_TEXT = 64 * 1024

_TIMESTAMP = re.compile(r"^\d{1,12}$")
_SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}$")


class Refused(Exception):
    """A delivery the webhook does not take: answered with `status` and the JSON error."""

    def __init__(self, status: int, code: str, detail: str, *, fields: dict | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.fields = status, code, detail, fields


@dataclass(frozen=True)
class Received:
    """What a delivered message did: the ticket it belongs to, and whether it opened it."""

    ticket: Ticket
    outcome: str
    is_new_ticket: bool


# -- authenticity -------------------------------------------------------------------


def verify_signature(*, channel: str, timestamp: str | None, signature: str | None, body: bytes,
                     now: float | None = None) -> None:
    """Refuse (401) a delivery whose timestamp is off or whose signature is not ours.

    The signature is lowercase hex HMAC-SHA256(secret, timestamp + "." + body); each
    secret configured for the channel is tried (a rotation has two), in constant time.
    """
    secrets = settings.MINHU_INTAKE_SECRETS.get(channel) or []
    if not secrets:
        raise Refused(503, "not_configured", _("This channel takes no messages: it has no secret configured."))
    if not timestamp or not signature:
        raise Refused(401, "unauthenticated", _("Sign the request: X-Minhu-Timestamp and X-Minhu-Signature are required."))
    if not _TIMESTAMP.match(timestamp) or not _SIGNATURE.match(signature):
        raise Refused(401, "unauthenticated", _(
            "X-Minhu-Timestamp must be unix seconds and X-Minhu-Signature 64 hex digits."
        ))
    window = settings.MINHU_INTAKE_WINDOW_SECONDS
    if abs((now or time.time()) - int(timestamp)) > window:
        raise Refused(401, "unauthenticated", _(
            "The timestamp is more than %(seconds)d seconds from the server's clock."
        ) % {"seconds": window})
    signed = timestamp.encode() + b"." + body
    expected = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    if not any([hmac.compare_digest(e, signature.lower()) for e in expected]):
        raise Refused(401, "unauthenticated", _("The signature does not match the body."))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the signature a gateway sends: for tests, benchmarks and gateway authors."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


# -- reading the payload ----------------------------------------------------------------


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def read_object(body: bytes) -> dict:
    """Return the body as a JSON object; refuse (400) anything else."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise Refused(400, "malformed", _("The body is not UTF-8.")) from None
    except (ValueError, RecursionError):
        raise Refused(400, "malformed", _("The body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise Refused(400, "malformed", _("The body must be a JSON object."))
    return data


def string(data: dict, field: str, *, max_length: int, required: bool = True, label: str | None = None) -> str:
    """Return a string field as sent (not stripped: text is kept verbatim)."""
    label = label or field
    value = data.get(field)
    if value is None:
        if required:
            raise field_error(label, _("This field is required."))
        return ""
    if not isinstance(value, str):
        raise field_error(label, _("Must be a string."))
    if required and not value.strip():
        raise field_error(label, _("This field is required."))
    if len(value) > max_length:
        raise field_error(label, _("At most %(count)d characters.") % {"count": max_length})
    return value


def message_id(data: dict, field: str) -> str:
    value = string(data, field, max_length=MAX_ID)
    if value != value.strip() or any(not c.isprintable() for c in value):
        raise field_error(field, _("Must not contain spaces at its ends or control characters."))
    return value


def timestamp(data: dict, field: str) -> dt.datetime:
    """Return an ISO 8601 time with its offset; refuse one without."""
    value = string(data, field, max_length=40)
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise field_error(field, _("Must be an ISO 8601 time, such as 2026-11-24T09:30:00+08:00.")) from None
    if parsed.tzinfo is None:
        raise field_error(field, _("Give the time's offset, such as +08:00."))
    return parsed


def description_of(text: str) -> str:
    """Return the text as a ticket's description: stripped, and cut where it is too long.

    The message itself keeps every character; the description is what staff read first.
    """
    text = text.strip()
    return text if len(text) <= MAX_DESCRIPTION else text[:MAX_DESCRIPTION - 1] + "…"


# -- keeping each message once ---------------------------------------------------------------


def lock(namespace: int, key: str) -> None:
    """Hold a transaction-scoped lock on `key` until the commit (PostgreSQL).

    SQLite, the embedded demo, serialises whole write transactions already.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # crc32 as a signed 32-bit key: a collision only makes two messages wait in turn.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [namespace, zlib.crc32(key.encode()) - 2**31])


LOCK_MESSAGE = 73110001
LOCK_THREAD = 73110002


_ALREADY_RECEIVED = (
    f"SELECT m.outcome, t.id, t.number, t.state FROM {InboundMessage._meta.db_table} m"
    f" JOIN {Ticket._meta.db_table} t ON t.id = m.ticket_id WHERE m.channel = %s AND m.external_id = %s"
)


def already_received(channel: str, external_id: str) -> Received | None:
    """Return what an earlier delivery of this message did, or None.

    Plain SQL: every delivery asks this, and the ORM would spend longer writing the
    query than PostgreSQL answering it.
    """
    with connection.cursor() as cursor:
        cursor.execute(_ALREADY_RECEIVED, [channel, external_id])
        row = cursor.fetchone()
    if row is None:
        return None
    outcome, ticket_id, number, state = row
    return Received(Ticket(id=ticket_id, number=number, state=state), outcome, False)


def sort_text(text: str) -> tuple[Category, routing.Suggestion | None]:
    """Return the category a text goes into, and what its words suggest.

    A confident match of the routing rules names the category; anything less leaves
    the text in the intake category, the suggestion shown to the dispatcher.
    """
    suggestion = routing.suggest(text)
    if suggestion is not None and suggestion.is_confident and routing.takes_tickets(suggestion.category):
        return suggestion.category, suggestion
    return intake_category(), suggestion


def intake_category() -> Category:
    """Return the category for text that arrives without one, creating it when missing.

    A message must never be refused for the hotline's own set-up: a missing category
    is made (the centre then recategorises the tickets in it).
    """
    code = settings.MINHU_INTAKE_CATEGORY
    found = routing.remembered("intake", lambda: Category.objects.filter(code=code).first())
    if found is not None:
        return found
    # Not remembered: the new row exists only once this transaction commits.
    category, _created = Category.objects.get_or_create(
        code=code, defaults={"name": "待分类", "accept_amount": 2, "accept_unit": DeadlineUnit.HOURS},
    )
    return category


def receive(*, channel: str, external_id: str, handle: Callable[[], Received]) -> Received:
    """Run `handle` for a message not seen before; answer a repeat with what the first did.

    `handle` opens, rates or supports a ticket and keeps the message; it runs inside
    the transaction that holds the message's lock, so it runs once per message.
    """
    try:
        with transaction.atomic():
            lock(LOCK_MESSAGE, f"{channel}:{external_id}")
            found = already_received(channel, external_id)
            return found if found is not None else handle()
    except IntegrityError:
        # The constraint behind the lock (a database without advisory locks).
        found = already_received(channel, external_id)
        if found is None:
            raise
        return found


def message(*, channel: str, external_id: str, outcome: str, sender: str, raw: str, sender_name: str = "",
            thread: str = "", text: str = "", pictures: list[str] | None = None,
            sent_at: dt.datetime | None = None, ticket: Ticket | None = None) -> InboundMessage:
    """Return the message as it came, unsaved: kept with the ticket it opened, rated or supported."""
    return InboundMessage(
        channel=channel, external_id=external_id, ticket=ticket, outcome=outcome, sender=sender,
        sender_name=sender_name[:100], thread=thread, text=text, pictures=pictures or [], raw=raw,
        sent_at=sent_at,
    )


def keep(**fields) -> InboundMessage:
    """Store the message with the ticket it rated or supported (a new ticket keeps its own)."""
    kept = message(**fields)
    kept.save(force_insert=True)
    return kept
