"""Domain errors. Each maps to one HTTP status in the API's single exception handler."""


class TicketError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, detail: str, *, fields: dict[str, list[str]] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.fields = fields


class InvalidInput(TicketError):
    """The arguments are wrong: unknown unit, empty reply, a date in the past."""


class NotFound(TicketError):
    """The ticket does not exist, or the user may not see it (the two look the same)."""

    status = 404
    code = "not_found"


class NotAllowed(TicketError):
    """The user sees the ticket but their role or unit may not do this."""

    status = 403
    code = "forbidden"


class Conflict(TicketError):
    """Not allowed from the ticket's current state, or another change won the race."""

    status = 409
    code = "conflict"


def show_on_form(form, error: TicketError, *, aliases: dict[str, str] | None = None) -> None:
    """Put a service's field errors on the form's fields, the rest above the form.

    `aliases` maps a service's field name to the form's where they differ.
    """
    for field, messages in (error.fields or {}).items():
        name = (aliases or {}).get(field, field)
        for message in messages:
            form.add_error(name if name in form.fields else None, message)
    if not error.fields:
        form.add_error(None, error.detail)
