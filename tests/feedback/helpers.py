"""Helpers for the rating tests: a ticket waiting for its rating, and the link its citizen got."""

import re

from tests.factories import make_ticket
from tickets import notifications, services
from tickets.models import Notification, State, Ticket

_RATE_PATH = re.compile(r"/rate/(\d+)/([A-Za-z0-9_-]+)/")


def awaiting(city, **fields) -> Ticket:
    """Return a phone ticket verified through the services: its citizen has a rating link."""
    return make_ticket(city, State.AWAITING_FEEDBACK, **fields)


def sent_text(ticket: Ticket) -> str:
    """Return the latest result notice to the ticket's citizen as it goes out (with its token)."""
    notice = (
        Notification.objects.filter(ticket=ticket, kind=Notification.Kind.RESULT, recipient_unit=None)
        .exclude(body__contains="已并入").latest("id")
    )
    return notifications.outgoing_text(notice)


def rating_path(ticket: Ticket) -> str:
    """Return the path of the rating link in the citizen's latest result notice."""
    match = _RATE_PATH.search(sent_text(ticket))
    assert match is not None, "no rating link in the notice"
    return match.group(0)


def token_of(ticket: Ticket) -> str:
    return rating_path(ticket).rstrip("/").rsplit("/", 1)[1]


def handle_again(city, ticket: Ticket, reply: str = "再次处理完毕") -> Ticket:
    """Bring a reopened (dispatched) ticket round the loop to awaiting_feedback again."""
    services.ticket_claim(ticket_id=ticket.id, actor=city.handler)
    services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply=reply)
    services.ticket_verify(ticket_id=ticket.id, actor=city.dispatcher)
    ticket.refresh_from_db()
    return ticket


def reopen(city, ticket: Ticket, comment: str = "还是没有解决") -> Ticket:
    """Rate the waiting ticket unsatisfied on a return call; return it reopened."""
    services.ticket_rate(ticket_id=ticket.id, actor=city.operator, rating="unsatisfied", comment=comment)
    ticket.refresh_from_db()
    return ticket

