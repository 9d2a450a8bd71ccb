"""The live staff screens: the dispatch desk and a unit's queue.

Both are plain pages first (they work, and refresh, without script). Their script opens
the matching socket (tickets.sockets) and, on each event, fetches the page again and
swaps the parts that changed, so everything shown is rendered here, under the same
scope and masking as every other staff page. The desk's buttons call the staff API.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from departments.models import Unit
from departments.selectors import (
    WATCH_SUBTREE,
    leaf_categories,
    unit_watch,
    watched_units,
)
from feedback.selectors import reopen_flags_open, with_reopen_comment
from tickets import routing
from tickets.desk.views import page_context, staff_only
from tickets.duplicates import likely_originals_for, possible_duplicate_ids
from tickets.errors import NotFound
from tickets.routing import suggestion_kept_rate
from tickets.selectors import (
    QUEUE_ROWS,
    category_suggestion,
    desk_counters,
    desk_queue,
    dispatch_candidates,
    dispatch_units,
    last_event_id,
    ticket_events,
    ticket_get,
    ticket_reporter,
    unit_queue,
)
from tickets.sockets import presence

_dispatcher_only = staff_only(
    lambda scope: scope.is_dispatcher, lambda: _("Only the centre's dispatchers work the dispatch desk.")
)


def _no_store(response):
    response["Cache-Control"] = "private, no-store"
    return response


@_dispatcher_only
@require_GET
def dispatch_desk(request):
    """The centre's live queue, counters, units on duty, and the chosen ticket's panel."""
    now = timezone.now()
    units = list(dispatch_units())
    online = presence.online_units()
    selected = request.GET.get("ticket", "")
    rows = list(desk_queue(now=now)[:QUEUE_ROWS])
    return _no_store(render(request, "desk/dispatch.html", page_context(
        request, title=_("Dispatch desk"), now=now,
        last_event=last_event_id(),  # read before the rows: the socket resumes after it
        rows=rows, duplicate_ids=possible_duplicate_ids(rows), counters=desk_counters(now=now),
        kept=suggestion_kept_rate(),
        units=[(unit, online.get(unit.code, 0)) for unit in units],
        units_online=sum(1 for unit in units if online.get(unit.code)),
        selected=selected, panel=_panel(request, selected) if selected else None,
        reopen_flags=reopen_flags_open(),
    )))


@_dispatcher_only
@require_GET
def dispatch_panel(request, number: str):
    """One ticket as the desk shows it beside the queue (a fragment the desk's script fetches)."""
    panel = _panel(request, number)
    if panel is None:
        raise Http404(_("No such ticket."))
    return _no_store(render(request, "desk/_dispatch_panel.html", panel))


def _panel(request, number: str) -> dict | None:
    try:
        ticket = ticket_get(user=request.user, number=number)
    except NotFound:
        return None
    words = routing.suggest(ticket.description)
    suggestion = category_suggestion(ticket, words)
    return {
        "ticket": ticket, "reporter": ticket_reporter(user=request.user, ticket=ticket),
        "events": list(ticket_events(ticket)), "candidates": dispatch_candidates(ticket, suggestion=words),
        "category_suggestion": suggestion,
        "chosen_category_id": suggestion.category.id if suggestion is not None else ticket.category_id,
        "dispatch_to": dispatch_units(), "categories": leaf_categories(), "api_url": reverse("api-ticket", args=[ticket.number]),
        "duplicates": likely_originals_for(request.user, ticket),
    }


@login_required
@require_GET
def unit_queue_page(request, code: str | None = None):
    """A unit's live queue: tickets to sign for and to handle, newest dispatches announced."""
    units = watched_units(request.user)
    if code is None:
        if not units:
            raise PermissionDenied(_("Only members and supervisors of a unit have a queue."))
        return redirect("desk:queue", code=units[0][0].code)
    unit = Unit.objects.filter(code=code, is_active=True).first()
    watch = unit_watch(request.user, unit) if unit is not None else None
    if watch is None:
        raise Http404(_("No such unit among your queues."))
    subtree = watch == WATCH_SUBTREE
    return _no_store(render(request, "desk/queue.html", page_context(
        request, title=_("Queue of %(unit)s") % {"unit": unit.name}, now=timezone.now(), unit=unit,
        subtree=subtree, units=units, last_event=last_event_id(),
        rows=list(with_reopen_comment(unit_queue(unit, subtree=subtree))[:QUEUE_ROWS]),
    )))
