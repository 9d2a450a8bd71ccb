"""The citizens' pages: the report form at / and the tracking page /track/{number}/.

No login: a report answers with the ticket's number and an access code, and the code
opens the tracking page. Both forms are rate-limited per client (and the code per
ticket too), so neither can be used to flood the hotline or to guess codes.
"""

import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit import ALL
from django_ratelimit.core import get_usage
from django_ratelimit.decorators import ratelimit

from config.middleware import accepts_uploads
from tickets import services
from tickets.attachments import clean_photos
from tickets.citizen.forms import AccessCodeForm, FindForm, ReportForm
from tickets.citizen.timeline import describe, state_words
from tickets.errors import TicketError
from tickets.models import Channel
from tickets.notifications import tracking_key_valid
from tickets.selectors import (
    last_event_id,
    merge_carrier,
    ticket_for_citizen,
    ticket_public_deadline,
    ticket_public_events,
    ticket_public_reply,
)

REPORTS_PER_MINUTE = "5/m"
REPORTS_PER_HOUR = "30/h"
# Every code entered counts, right or wrong: checking first and counting only the
# wrong ones would let parallel guesses slip past the limit.
CODE_TRIES_PER_NUMBER = "10/h"
CODE_TRIES_PER_CLIENT = "20/h"
# How long a browser that gave the right code may see the ticket without it.
TRACKING_SECONDS = 30 * 60

_SESSION_REPORTS = "citizen_reports"  # number -> access code until shown once, then ""
_SESSION_TRACKING = "citizen_tracking"  # number -> until when this browser may see it
_SESSION_KEEP = 20  # entries of each, newest kept


def error_page(request: HttpRequest, *, status: int, title: str, message: str) -> HttpResponse:
    """A citizen page that says what went wrong and what to do (never kept by a cache)."""
    response = render(request, "citizen/error.html", {"title": title, "message": message}, status=status)
    response["Cache-Control"] = "private, no-store"
    return response


def _code_tries_page(request: HttpRequest) -> HttpResponse:
    return error_page(request, status=429, title=_("Too many tries"), message=_(
        "The access code was entered wrongly too often. Wait an hour and try again, or call 12345."
    ))


def upload_too_large(request: HttpRequest, limit: int) -> HttpResponse:
    """Answer a report whose photos and text together exceed what the form takes (413)."""
    return error_page(request, status=413, title=_("Your report is too large"), message=_(
        "Photos may be at most %(size)d MB each and %(count)d in all. Choose fewer or smaller photos "
        "and send the report again."
    ) % {"size": settings.MINHU_MAX_PHOTO_BYTES // (1024 * 1024), "count": settings.MINHU_MAX_PHOTOS})


def _form_too_large(request: HttpRequest) -> HttpResponse:
    return error_page(request, status=413, title=_("Your report is too large"), message=_(
        "The text you sent is longer than this form takes. Shorten the description and send it again."
    ))


def _too_many_reports(request: HttpRequest) -> HttpResponse:
    return error_page(request, status=429, title=_("Too many reports"), message=_(
        "Many reports were sent from your connection in a short time. Wait a few minutes and try "
        "again, or call 12345."
    ))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Explain a refused citizen form in plain words; staff pages keep Django's page (CSRF_FAILURE_VIEW)."""
    match = request.resolver_match
    if match is None or (match.namespace not in ("citizen", "feedback") and match.url_name != "set_language"):
        return django_csrf_failure(request, reason=reason)
    return error_page(request, status=403, title=_("The form has expired"), message=_(
        "For your safety the page could not accept this form. Go back, reload the page and send it again."
    ))


def session_keep(request: HttpRequest, key: str, number: str, value) -> None:
    """Remember `value` for the ticket in the browser's session, under `key`, for the last few tickets."""
    entries = {n: v for n, v in request.session.get(key, {}).items() if n != number}
    entries[number] = value
    request.session[key] = dict(list(entries.items())[-_SESSION_KEEP:])


# -- the report form ------------------------------------------------------------------

@accepts_uploads(settings.MINHU_MAX_UPLOAD_BYTES, too_large=upload_too_large)
@csrf_exempt  # checked in _report once the body is known to be readable, see below
@ratelimit(group="citizen-report-minute", key="ip", rate=REPORTS_PER_MINUTE, method="POST", block=False)
@ratelimit(group="citizen-report-hour", key="ip", rate=REPORTS_PER_HOUR, method="POST", block=False)
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """Take a citizen's report (channel web) and redirect to its number and access code.

    CSRF's middleware would read the form before this view and turn a body it cannot
    take into Django's bare 400 page; the view reads it first (Django's documented
    csrf_exempt-then-csrf_protect pattern) so the citizen gets a page that says why.
    """
    if getattr(request, "limited", False):
        return _too_many_reports(request)
    if request.method == "POST":
        try:
            request.POST  # noqa: B018 -- parse the body now, to answer what cannot be parsed
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
            return _form_too_large(request)
        except MultiPartParserError:
            return error_page(request, status=400, title=_("The form could not be read"), message=_(
                "The report did not arrive whole. Check your connection and send it again."
            ))
    return _report(request)


@csrf_protect
def _report(request: HttpRequest) -> HttpResponse:
    form = ReportForm(request.POST, request.FILES) if request.method == "POST" else ReportForm()
    if form.is_bound and form.is_valid():
        try:
            ticket, code = services.ticket_create(
                channel=Channel.WEB, photos=clean_photos(form.cleaned_data["photos"]), **form.arguments()
            )
        except TicketError as error:
            form.show_error(error)
        else:
            # Post/Redirect/Get: the code waits in the session for its one showing.
            session_keep(request, _SESSION_REPORTS, ticket.number, code)
            return redirect("citizen:reported", number=ticket.number)
    return render(request, "citizen/report.html", {"form": form, "find_form": FindForm()},
                  status=400 if form.is_bound else 200)


@require_GET
def reported(request: HttpRequest, number: str) -> HttpResponse:
    """Show a new report's number and, this once, its access code."""
    reports = request.session.get(_SESSION_REPORTS, {})
    ticket = ticket_for_citizen(number=number) if number in reports else None
    if ticket is None:
        return redirect("citizen:track", number=number)
    code = reports[number]
    if code:
        session_keep(request, _SESSION_REPORTS, number, "")
    response = render(request, "citizen/reported.html", {"ticket": ticket, "code": code})
    # The code must not stay in a cache or in the browser's back-forward history.
    response["Cache-Control"] = "no-store"
    return response


# -- the tracking page ----------------------------------------------------------------

@require_GET
def find(request: HttpRequest) -> HttpResponse:
    """Go from a number typed on the report page to its tracking page."""
    form = FindForm(request.GET or None)
    if form.is_valid():
        return redirect("citizen:track", number=form.cleaned_data["number"])
    return render(request, "citizen/find.html", {"find_form": form}, status=400 if form.is_bound else 200)


def may_track(session, number: str) -> bool:
    """Whether this browser session gave the ticket's access code within the last half hour.

    The tracking page and its live socket (tickets.sockets) both ask this.
    """
    return session.get(_SESSION_TRACKING, {}).get(number, 0) > time.time()


def _code_tries_exceeded(request: HttpRequest, number: str) -> bool:
    """Count this try against the client and the number; say whether either is over its limit."""
    limits = [
        ("citizen-code-client", "ip", CODE_TRIES_PER_CLIENT),
        ("citizen-code-number", lambda group, request: number[:40], CODE_TRIES_PER_NUMBER),
    ]
    # Any method: a code comes by POST, a signed link's key by GET.
    usages = [get_usage(request, group=g, key=k, rate=r, method=ALL, increment=True) for g, k, r in limits]
    return any(usage is not None and usage["should_limit"] for usage in usages)


@require_http_methods(["GET", "POST"])
def track(request: HttpRequest, number: str) -> HttpResponse:
    """Show a ticket to whoever gives its access code (POST, so it never lands in a log).

    An unknown number and a wrong code get the same answer: the page must not tell
    which numbers exist.
    """
    if request.method == "GET" and may_track(request.session, number):
        ticket = ticket_for_citizen(number=number)
        if ticket is not None:
            return _ticket_page(request, ticket)
    if request.method == "GET" and "k" in request.GET:
        return _follow_signed_link(request, number)
    form = AccessCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if _code_tries_exceeded(request, number):
            return _code_tries_page(request)
        ticket = ticket_for_citizen(number=number) if form.is_valid() else None
        if ticket is not None and ticket.check_access_code(form.cleaned_data["code"]):
            # A new session key: whoever planted the old one must not share the access.
            request.session.cycle_key()
            session_keep(request, _SESSION_TRACKING, number, time.time() + TRACKING_SECONDS)
            return redirect("citizen:track", number=number)
        if form.is_valid():
            form.add_error("code", _("This number and access code do not match."))
    return render(request, "citizen/track_code.html", {"number": number, "form": form},
                  status=403 if form.is_bound else 200)


def _follow_signed_link(request: HttpRequest, number: str) -> HttpResponse:
    """Open the ticket for the browser that followed the link in the citizen's SMS.

    The key is checked like a code (and counted like one, so it cannot be guessed),
    then dropped from the address: the page is seen at its plain URL, and the key
    goes into no history, bookmark or Referer.
    """
    if _code_tries_exceeded(request, number):
        return _code_tries_page(request)
    if tracking_key_valid(number, request.GET["k"][:200]) and ticket_for_citizen(number=number) is not None:
        request.session.cycle_key()
        session_keep(request, _SESSION_TRACKING, number, time.time() + TRACKING_SECONDS)
        return redirect("citizen:track", number=number)
    form = AccessCodeForm()
    return render(request, "citizen/track_code.html", {
        "number": number, "form": form,
        "link_error": _("This link has expired or is not complete. Enter the access code instead."),
    }, status=403)


def _ticket_page(request: HttpRequest, ticket) -> HttpResponse:
    # A merged report goes on as another ticket: its reporter follows that one's progress
    # and reads its verified reply here, where the SMS with the result links to.
    carrier = merge_carrier(ticket)
    response = render(request, "citizen/track.html", {
        "ticket": ticket,
        "state_words": state_words(ticket.state),
        "resolve_due_at": ticket_public_deadline(ticket),
        "paused_until": ticket.paused_until,  # set only while the unit waits for the citizen
        "reply": ticket_public_reply(ticket),
        "lines": [describe(event) for event in ticket_public_events(ticket)],
        "last_event": last_event_id(),  # the page's socket resumes after it
        "carrier": carrier,
        "carrier_state_words": state_words(carrier.state) if carrier else "",
        "carrier_reply": ticket_public_reply(carrier) if carrier else "",
    })
    response["Cache-Control"] = "private, no-store"
    return response
