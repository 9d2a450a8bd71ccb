"""The operators' return calls (回访): the tickets waiting for a rating, and the rating a caller gives.

An operator calls the citizen back, reads the unit's reply and records the answer,
through the same `ticket_rate` as every other path (via "phone"); an "unsatisfied"
reopens the ticket to its unit with the citizen's words.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from feedback.forms import CallRatingForm
from feedback.models import RatingVia
from feedback.selectors import callbacks_due, ratings_of
from tickets import services
from tickets.desk.views import page_context, staff_only
from tickets.errors import NotFound, TicketError, show_on_form
from tickets.models import Rating
from tickets.selectors import QUEUE_ROWS, ticket_get, ticket_reporter

_operator_only = staff_only(
    lambda scope: scope.is_operator, lambda: _("Only the centre's operators make return calls.")
)


@_operator_only
@require_GET
def callbacks(request):
    """List the tickets waiting for a rating whose citizen can be called, the nearest deadline first."""
    rows = list(callbacks_due(user=request.user)[:QUEUE_ROWS])
    return render(request, "desk/callbacks.html", page_context(
        request, title=_("Return calls (回访)"), now=timezone.now(), rows=rows,
    ))


@_operator_only
@require_http_methods(["GET", "POST"])
def callback(request, number: str):
    """Show one ticket for the call, and record the rating the citizen gives on it."""
    try:
        ticket = ticket_get(user=request.user, number=number)
    except NotFound:
        raise Http404(_("No such ticket.")) from None
    form = CallRatingForm(request.POST if request.method == "POST" else None)
    status = 400 if form.is_bound else 200
    if form.is_bound and form.is_valid():
        try:
            ticket = services.ticket_rate(ticket_id=ticket.id, actor=request.user, via=RatingVia.PHONE,
                                          **form.cleaned_data)
        except TicketError as error:
            show_on_form(form, error)
            status = 400 if error.fields else error.status
        else:
            messages.success(request, _(
                "The rating of %(number)s is recorded (%(rating)s); the ticket is now %(state)s."
            ) % {"number": ticket.number, "rating": Rating(ticket.rating).label, "state": ticket.get_state_display()})
            return redirect("callbacks:list")
    return render(request, "desk/callback.html", page_context(
        request, title=_("Return call for %(number)s") % {"number": ticket.number}, ticket=ticket, form=form,
        now=timezone.now(), reporter=ticket_reporter(user=request.user, ticket=ticket), ratings=ratings_of(ticket),
    ), status=status)
