"""SMS to the hotline (`POST /intake/sms/`): a new report, or the answer to a survey.

A citizen whose ticket waits for a rating gets an SMS that asks for 1, 2 or 3 (or
满意 / 基本满意 / 不满意). Such an answer rates that ticket instead of opening a new
one, and whatever follows the rating is kept as the citizen's comment
("3 路灯还是不亮"). When the phone has several tickets waiting for a rating, the
answer rates the one named in it ("1 2611240000123"), else the one whose result was
sent last (verified most recently): the SMS the citizen is most likely answering.
Any other text opens a ticket.
"""

import re
import unicodedata
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from tickets import services
from tickets.errors import InvalidInput, TicketError
from tickets.intake import common
from tickets.intake.common import Received
from tickets.models import Channel, InboundMessage, Rating, State, Ticket
from tickets.validation import normalize_phone

Outcome = InboundMessage.Outcome

SURVEY_ANSWERS = {
    "1": Rating.SATISFIED, "满意": Rating.SATISFIED,
    "2": Rating.BASICALLY_SATISFIED, "基本满意": Rating.BASICALLY_SATISFIED,
    "3": Rating.UNSATISFIED, "不满意": Rating.UNSATISFIED,
}
# The answer alone, or followed by a separator and a comment; "1号楼停水" is a report.
_ANSWER = re.compile(r"^(基本满意|不满意|满意|[123])(?:$|[\s,，.。:：;；!！、/-]+(.*)$)", re.DOTALL)
_NUMBER = re.compile(r"^(\d{13,20})\b[\s,，.。:：;；!！、/-]*(.*)$", re.DOTALL)
_END_PUNCTUATION = "。.！!~～ \t\r\n"


@dataclass(frozen=True)
class SurveyAnswer:
    rating: str
    comment: str
    number: str  # the ticket the citizen named, or ""


def parse_survey_answer(text: str) -> SurveyAnswer | None:
    """Return the rating an SMS gives, or None when it is not a survey answer."""
    # NFKC folds full-width digits (１) and spaces typed on Chinese keyboards.
    normalized = unicodedata.normalize("NFKC", text).strip().rstrip(_END_PUNCTUATION)
    match = _ANSWER.match(normalized)
    if match is None:
        return None
    rest = (match.group(2) or "").strip()
    number = ""
    named = _NUMBER.match(rest)
    if named is not None:
        number, rest = named.group(1), named.group(2).strip()
    return SurveyAnswer(SURVEY_ANSWERS[match.group(1)], rest, number)


def _ticket_to_rate(phone: str, number: str) -> Ticket | None:
    waiting = list(
        Ticket.objects.filter(reporter_phone=phone, state=State.AWAITING_FEEDBACK)
        .order_by("-verified_at", "-id").only("id", "number")[:50]
    )
    named = [t for t in waiting if t.number == number]
    return (named or waiting or [None])[0]


def sms_receive(*, payload: dict, raw: str) -> Received:
    """Take one SMS: rate the ticket it answers, or open a ticket with its text."""
    external_id = common.message_id(payload, "message_id")
    if payload.get("from") in (None, ""):
        raise InvalidInput("from: required", fields={"from": [_("This field is required.")]})
    phone = normalize_phone(payload.get("from"), field="from")
    text = common.string(payload, "text", max_length=common.MAX_TEXT)
    sent_at = common.timestamp(payload, "received_at")

    def handle() -> Received:
        answer = parse_survey_answer(text)
        ticket = _ticket_to_rate(phone, answer.number) if answer is not None else None
        if ticket is not None:
            try:
                with transaction.atomic():
                    rated = services.ticket_rate(ticket_id=ticket.id, actor=None, rating=answer.rating,
                                                 comment=answer.comment[:2000], via=Channel.SMS)
            except TicketError:
                # The rating window closed while the SMS travelled: a report like any other.
                pass
            else:
                common.keep(channel=Channel.SMS, external_id=external_id, ticket=rated, outcome=Outcome.RATED,
                            sender=phone, raw=raw, text=text, sent_at=sent_at)
                return Received(rated, Outcome.RATED, False)
        category, suggestion = common.sort_text(text)
        created, _code = services.ticket_create(
            category=category, description=common.description_of(text),
            channel=Channel.SMS, reporter_phone=phone,
            message=common.message(channel=Channel.SMS, external_id=external_id, outcome=Outcome.OPENED,
                                   sender=phone, raw=raw, text=text, sent_at=sent_at),
        )
        return Received(services.ticket_dispatch_directly(ticket=created, suggestion=suggestion), Outcome.OPENED, True)

    return common.receive(channel=Channel.SMS, external_id=external_id, handle=handle)
