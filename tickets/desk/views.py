"""The operator's call entry: a phone ticket in under a minute, read back to the caller.

The caller's earlier tickets show as soon as the number is typed (a fragment fetched by
the page's script, or with the "look up" button without it), so a repeat caller is
recognised before the problem is written down again.
"""

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from departments.selectors import staff_scope
from tickets import services
from tickets.desk.forms import CallForm
from tickets.errors import NotFound, TicketError, show_on_form
from tickets.models import Channel
from tickets.selectors import caller_history, ticket_get

_SESSION_CODES = "desk_codes"
# Service field names that differ from the form's.
_FIELD_NAMES = {"location": "address"}


def staff_only(allowed, refusal):
    """Decorate a desk view: logged in, and `allowed(scope)` true, or 403 with `refusal`."""
    def decorate(view):
        def check(request, *args, **kwargs):
            if not allowed(staff_scope(request.user)):
                raise PermissionDenied(refusal())
            return view(request, *args, **kwargs)

        return login_required(check)

    return decorate


_operator_only = staff_only(lambda scope: scope.is_operator, lambda: _("Only the centre's operators enter calls."))


def page_context(request, **extra) -> dict:
    return {**admin.site.each_context(request), **extra}


@_operator_only
@require_http_methods(["GET", "POST"])
def call_entry(request):
    """Enter a call (channel phone) through ticket_create, then read the number back."""
    form = CallForm(request.POST or None)
    history = None
    if request.method == "POST" and "lookup" in request.POST:
        history = caller_history(user=request.user, phone=request.POST.get("phone", ""))
        form = CallForm(initial=request.POST.dict())
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket, code = services.ticket_create(
                category=data["category"], description=data["description"], channel=Channel.PHONE,
                actor=request.user, address=data["address"], reporter_name=data["name"],
                reporter_phone=data["phone"],
            )
        except TicketError as error:
            show_on_form(form, error, aliases=_FIELD_NAMES)
        else:
            # Shown once, on the next page, to be read to the caller; stored hashed.
            request.session[_SESSION_CODES] = {ticket.number: code}
            return redirect("desk:call-done", number=ticket.number)
    if history is None and form.data.get("phone"):
        history = caller_history(user=request.user, phone=form.data["phone"])
    return render(request, "desk/call.html", page_context(
        request, form=form, history=history, looked_up=history is not None, title=_("Enter a call"),
        history_url=reverse("desk:call-history"),
    ))


@_operator_only
@require_GET
def call_history(request):
    """Return the caller's earlier tickets as an HTML fragment for the entry page."""
    history = caller_history(user=request.user, phone=request.GET.get("phone", ""))
    return render(request, "desk/_history.html", {"history": history, "looked_up": True})


@_operator_only
@require_GET
def call_done(request, number: str):
    """Show the new ticket's number and access code, grouped for reading aloud."""
    try:
        ticket = ticket_get(user=request.user, number=number)
    except NotFound:
        raise Http404(_("No such ticket.")) from None
    code = request.session.get(_SESSION_CODES, {}).pop(number, None)
    request.session.modified = True
    return render(request, "desk/call_done.html", page_context(
        request, ticket=ticket, code=code, title=_("Read back to the caller"),
        spoken_number=_spoken(ticket.number), spoken_code=_spoken(code or ""),
        track_url=request.build_absolute_uri(reverse("citizen:track", args=[ticket.number])),
    ))


def _spoken(digits: str) -> str:
    """Group digits in threes and fours the way numbers are read over the phone."""
    if len(digits) <= 4:
        return digits
    groups, rest = [], digits
    while len(rest) > 4:
        groups.append(rest[:3] if len(rest) % 4 else rest[:4])
        rest = rest[len(groups[-1]):]
    return " ".join([*groups, rest])

