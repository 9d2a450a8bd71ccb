from tickets.models import Ticket, TicketEvent

CHANGELIST = "/admin/tickets/ticket/"


def change_url(ticket: Ticket) -> str:
    return f"{CHANGELIST}{ticket.id}/change/"


def action_url(ticket: Ticket, action: str) -> str:
    return f"{CHANGELIST}{ticket.id}/actions/{action}/"


def post_action(client, ticket: Ticket, action: str, fields: dict | None = None, **extra):
    """POST the action's form as the page would (its fields carry the action as prefix)."""
    data = {f"{action}-{name}": value for name, value in (fields or {}).items()}
    return client.post(action_url(ticket, action), data, **extra)


def history(ticket: Ticket) -> list[tuple[str, str]]:
    return list(TicketEvent.objects.filter(ticket=ticket).order_by("id").values_list("kind", "to_state"))
