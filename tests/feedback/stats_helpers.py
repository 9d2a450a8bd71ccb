"""Helpers for the statistics tests: tickets lived through the services at set times, and the figures."""

import datetime as dt

import time_machine

from feedback.stats.rollup import stats_catch_up
from feedback.stats.selectors import Filters, Period, stats_sums
from tests.factories import make_ticket
from tickets import services
from tickets.models import State, Ticket

CST = dt.timezone(dt.timedelta(hours=8))
# Monday; with the test category a claim is due 4 hours after dispatch, a reply at the
# end of the 5th working day after it (Monday 9 November, 23:59:59).
START = dt.datetime(2026, 11, 2, 10, 0, tzinfo=CST)
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
# Dispatched at START, then signed for, replied and verified an hour apart each.
HANDLED_STEPS = [(0, "dispatch"), (1, "claim"), (2, "resolve"), (3, "verify")]


def at(hours: float) -> dt.datetime:
    return START + dt.timedelta(hours=hours)


def live(city, steps: list[tuple[float, str]], *, unit=None, accepted: bool = True) -> Ticket:
    """Report (and accept) a ticket at START and take it through `steps`, each (hours after START, step)."""
    unit = unit or city.bureau
    with time_machine.travel(START, tick=False):
        ticket = make_ticket(city, State.ACCEPTED if accepted else State.REPORTED)
    return then(city, ticket, steps, unit=unit)


def then(city, ticket: Ticket, steps: list[tuple[float, str]], *, unit=None) -> Ticket:
    """Take the ticket on through `steps`, each (hours after START, step)."""
    for hours, step in steps:
        with time_machine.travel(at(hours), tick=False):
            _act(city, ticket, step, unit or city.bureau)
    ticket.refresh_from_db()
    return ticket


def _act(city, ticket: Ticket, step: str, unit) -> None:
    handler = city.street_handler if Ticket.objects.get(id=ticket.id).unit_id == city.street.id else city.handler
    name, _, argument = step.partition(":")
    actions = {
        "dispatch": lambda: services.ticket_dispatch(
            ticket_id=ticket.id, unit={"street": city.street, "bureau": city.bureau}.get(argument, unit),
            actor=city.dispatcher,
        ),
        "claim": lambda: services.ticket_claim(ticket_id=ticket.id, actor=handler),
        "return": lambda: services.ticket_return(ticket_id=ticket.id, actor=handler, reason="wrong_territory"),
        "resolve": lambda: services.ticket_resolve(ticket_id=ticket.id, actor=handler, reply="已处理"),
        "send_back": lambda: services.ticket_send_back(ticket_id=ticket.id, actor=city.dispatcher, reason="未处理到位"),
        "verify": lambda: services.ticket_verify(ticket_id=ticket.id, actor=city.dispatcher),
        "rate": lambda: services.ticket_rate(ticket_id=ticket.id, actor=city.operator, rating=argument),
        "expire": lambda: services.ticket_expire_feedback(ticket_id=ticket.id, now=Ticket.objects.get(
            id=ticket.id).feedback_due_at),
        "reject": lambda: services.ticket_reject(ticket_id=ticket.id, actor=city.dispatcher, reason="不属于受理范围"),
    }
    actions[name]()


def figures(period: Period = NOVEMBER, **filters):
    """Count what is new, then return the period's figures (the city's, or as `filters` narrow)."""
    stats_catch_up()
    return stats_sums(period=period, filters=Filters(**filters))[None]
