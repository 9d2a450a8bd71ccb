"""Rating through the one-time link, and the reasons a link cannot rate.

Every rating, whatever its path, is `tickets.services.ticket_rate`: the state machine
takes one rating per round (the ticket leaves awaiting_feedback), and an "unsatisfied"
reopens the ticket. What this module adds is the link's own rule: it rates only its
ticket, only in its round, once, before it expires.
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from feedback.links import MAX_TOKEN_LENGTH, hash_token
from feedback.models import RatingLink, RatingVia
from tickets import services as ticket_services
from tickets.errors import Conflict, NotFound, TicketError
from tickets.models import State, Ticket


class LinkUnknown(NotFound):
    """No link has this token for this ticket: forged, mistyped or cut short."""


class LinkGone(TicketError):
    """The link no longer rates: it was used, or its round's rating window closed."""

    status = 410
    code = "gone"


class LinkUsed(LinkGone):
    """The link rated its round already."""


class LinkExpired(LinkGone):
    """The round's rating window closed."""


class RoundClosed(Conflict):
    """The ticket is not waiting for this link's rating: rated another way, closed, or in a later round."""


def _current_round(ticket: Ticket) -> int:
    # A round starts at each verify, and only an "unsatisfied" leads to another verify.
    return ticket.reopen_count + 1


def rating_link_check(*, number: str, token: str, now: dt.datetime | None = None,
                      lock: bool = False) -> RatingLink:
    """Return the link the token opens for ticket `number`, with its ticket; raise why it cannot rate.

    With `lock`, the link and its ticket are locked (select for update) before they are
    judged, so a second submission of the same link waits and then finds it used.
    """
    links = RatingLink.objects.select_related("ticket", "ticket__category", "ticket__unit")
    if lock:
        links = links.select_for_update(of=("self", "ticket"))
    link = links.filter(token_hash=hash_token(token[:MAX_TOKEN_LENGTH])).first() if token else None
    if link is None or link.ticket.number != number:
        raise LinkUnknown(gettext(
            "This rating link is not valid. Open the whole link from the message you received, or call 12345."
        ))
    ticket = link.ticket
    if link.used_at is not None:
        raise LinkUsed(gettext("This rating link has been used already: each link rates once. Thank you."))
    if link.round != _current_round(ticket):
        raise RoundClosed(gettext(
            "This link was for an earlier reply to your report, which has been rated already. "
            "Use the link in the latest message about it."
        ))
    if ticket.state != State.AWAITING_FEEDBACK:
        raise RoundClosed(gettext(
            "Your report is not waiting for a rating now: it has been rated already, or its rating period has ended."
        ))
    if link.expires_at <= (now or timezone.now()):
        raise LinkExpired(gettext("This rating link has expired. To tell us what you think, call 12345."))
    return link


@transaction.atomic
def rating_link_use(*, number: str, token: str, rating: str, comment: str = "") -> Ticket:
    """Rate the ticket through its one-time link (the rating page); the link is spent with it."""
    now = timezone.now()
    link = rating_link_check(number=number, token=token, now=now, lock=True)
    ticket = ticket_services.ticket_rate(
        ticket_id=link.ticket_id, actor=None, rating=rating, comment=comment, via=RatingVia.LINK
    )
    # Both rows are locked: nothing else can have spent the link since it was checked.
    RatingLink.objects.filter(id=link.id, used_at=None).update(used_at=now)
    return ticket

