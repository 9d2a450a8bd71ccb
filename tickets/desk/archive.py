"""The archive's staff pages: search every ticket a user may see, and print a ticket's record.

Both read through the one visibility rule and show the reporter as the ticket's admin
page does: in full to the centre, masked to unit staff, who may reveal it on the record
(each reveal logged by the same service as on the admin page).
"""

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from feedback.selectors import ratings_of
from tickets import services
from tickets.admin_forms import RevealForm
from tickets.admin_views import with_state_labels
from tickets.desk.views import page_context, staff_only
from tickets.errors import InvalidInput, NotFound, TicketError
from tickets.models import Attachment, State
from tickets.search import ticket_archive_search
from tickets.selectors import may_reveal_reporter, ticket_events, ticket_get, ticket_reporter

_staff_with_tickets = staff_only(
    lambda scope: scope.sees_tickets,
    lambda: _("Only hotline staff search the tickets."),
)


@_staff_with_tickets
@require_GET
@never_cache
def archive_search(request):
    """Search the tickets the user may see, the archive included, newest first (tickets.search)."""
    text = request.GET.get("q", "")
    page, error, status = None, "", 200
    if text.strip():
        try:
            before = _page_cursor(request.GET.get("before"))
            page = ticket_archive_search(user=request.user, text=text, before=before)
        except InvalidInput as refusal:
            error, status = refusal.detail, 400
    rows = [(ticket, ticket_reporter(user=request.user, ticket=ticket)) for ticket in page.tickets] if page else []
    return render(request, "desk/search.html", page_context(
        request, title=_("Search the tickets"), text=text, page=page, rows=rows, error=error,
    ), status=status)


def _page_cursor(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise InvalidInput(_("This is not a page of the search; search again."))
    return int(value)


@_staff_with_tickets
@require_http_methods(["GET", "POST"])
@never_cache
def ticket_record(request, number: str):
    """Show a ticket's full record for the file: report, every event, reply, rating, photos.

    A POST reveals the reporter to unit staff on this one response, logged first.
    """
    try:
        ticket = ticket_get(user=request.user, number=number)
    except NotFound:
        raise Http404(_("No such ticket.")) from None
    revealed, reveal_form, error, status = False, RevealForm(prefix="reveal"), "", 200
    if request.method == "POST":
        reveal_form = RevealForm(request.POST, prefix="reveal")
        if not reveal_form.is_valid():
            status = 400
        else:
            try:
                services.ticket_reveal_reporter(
                    ticket_id=ticket.id, actor=request.user, reason=reveal_form.cleaned_data["reason"]
                )
            except TicketError as refusal:
                error, status = refusal.detail, refusal.status
            else:
                revealed = True
    reporter = ticket_reporter(user=request.user, ticket=ticket, revealed=revealed)
    events = with_state_labels(ticket_events(ticket))
    rated = ratings_of(ticket)
    return render(request, "desk/record.html", page_context(
        request, title=_("Record of ticket %(number)s") % {"number": ticket.number},
        ticket=ticket, reporter=reporter, revealed=revealed, events=events,
        rating_comment=rated[-1].note if rated else "",
        attachments=Attachment.objects.filter(ticket=ticket).order_by("id"),
        is_archived=ticket.state == State.ARCHIVED, error=error,
        reveal_form=None if revealed or not may_reveal_reporter(request.user, ticket) else reveal_form,
        change_url=reverse("admin:tickets_ticket_change", args=[ticket.pk]),
    ), status=status)
