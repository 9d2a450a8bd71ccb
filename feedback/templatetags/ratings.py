"""A ticket's staff page: its latest reopen in front of the handler, the return call for operators."""

from django import template
from django.urls import reverse

from departments.selectors import staff_scope
from feedback.selectors import latest_reopen
from tickets.models import State

register = template.Library()


@register.inclusion_tag("desk/_ticket_feedback.html", takes_context=True)
def ticket_feedback(context, ticket) -> dict:
    """Render the latest reopen with the citizen's words, and the return-call link when the user makes calls."""
    user = context["request"].user
    waiting = ticket.state == State.AWAITING_FEEDBACK and staff_scope(user).is_operator
    return {
        "ticket": ticket,
        "reopen": latest_reopen(ticket),
        "callback_url": reverse("callbacks:call", args=[ticket.number]) if waiting else "",
    }
