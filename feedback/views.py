"""The citizen's rating page, reached by the one-time link of the result notice (回访).

No login: the link is the credential. Opening it shows the reply and three answers;
sending the form rates the ticket through `feedback.services.rating_link_use`, which
spends the link. A link that cannot rate (forged, used, expired, of a finished round)
gets a page that says which, and changes nothing. Every request to the page counts
against its client's limit, so tokens cannot be tried in bulk.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit import ALL
from django_ratelimit.decorators import ratelimit

from config.middleware import accepts_uploads
from feedback import services
from feedback.forms import RatingForm
from tickets.citizen.views import error_page, session_keep
from tickets.errors import InvalidInput, TicketError, show_on_form
from tickets.models import Rating
from tickets.selectors import ticket_for_citizen, ticket_public_reply

RATING_REQUESTS_PER_MINUTE = "10/m"
RATING_REQUESTS_PER_HOUR = "60/h"

_SESSION_RATED = "citizen_rated"  # number -> the rating this browser gave, for the thank-you page


def _refused(request: HttpRequest, error: TicketError) -> HttpResponse:
    titles = [
        (services.LinkUnknown, _("This rating link is not valid")),
        (services.LinkUsed, _("This rating link has been used")),
        (services.LinkExpired, _("This rating link has expired")),
        (services.RoundClosed, _("No rating is needed now")),
    ]
    title = next((t for kind, t in titles if isinstance(error, kind)), _("The rating could not be recorded"))
    return error_page(request, status=error.status, title=title, message=error.detail)


def _comment_too_large(request: HttpRequest, limit: int) -> HttpResponse:
    return error_page(request, status=413, title=_("Your comment is too long"), message=_(
        "The form you sent is longer than this page takes. Shorten the comment and send it again."
    ))


@require_GET
def incomplete_link(request: HttpRequest, number: str) -> HttpResponse:
    """Answer the rating page's address without its token (a link cut short, or read in the back office)."""
    return error_page(request, status=404, title=_("This rating link is not valid"), message=_(
        "The link is not complete. Open the whole link from the message you received, or call 12345."
    ))


@accepts_uploads(settings.MINHU_MAX_BODY_BYTES, too_large=_comment_too_large)  # a page, not the API's JSON
@ratelimit(group="citizen-rating-minute", key="ip", rate=RATING_REQUESTS_PER_MINUTE, method=ALL, block=False)
@ratelimit(group="citizen-rating-hour", key="ip", rate=RATING_REQUESTS_PER_HOUR, method=ALL, block=False)
@require_http_methods(["GET", "POST"])
def rate(request: HttpRequest, number: str, token: str) -> HttpResponse:
    """Show the rating form of a valid link (GET), or rate the ticket with it (POST, CSRF-checked)."""
    if getattr(request, "limited", False):
        return error_page(request, status=429, title=_("Too many tries"), message=_(
            "Many requests came from your connection in a short time. Wait a few minutes and try again, "
            "or call 12345."
        ))
    try:
        link = services.rating_link_check(number=number, token=token)
    except TicketError as error:
        return _refused(request, error)
    form = RatingForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            services.rating_link_use(number=number, token=token, **form.cleaned_data)
        except InvalidInput as error:
            show_on_form(form, error)
        except TicketError as error:
            return _refused(request, error)
        else:
            # Post/Redirect/Get: the link is spent, so the thanks live at an address of their own.
            session_keep(request, _SESSION_RATED, number, form.cleaned_data["rating"])
            return redirect("feedback:rated", number=number)
    ticket = link.ticket
    response = render(request, "citizen/rate.html", {
        "ticket": ticket, "reply": ticket_public_reply(ticket), "form": form, "expires_at": link.expires_at,
    }, status=400 if form.is_bound else 200)
    # The page holds a working link: no cache keeps it.
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def rated(request: HttpRequest, number: str) -> HttpResponse:
    """Thank the citizen who just rated, saying what happens next."""
    rating = request.session.get(_SESSION_RATED, {}).get(number)
    ticket = ticket_for_citizen(number=number) if rating else None
    if ticket is None:
        return redirect("citizen:track", number=number)
    return render(request, "citizen/rated.html", {
        "ticket": ticket, "reopened": rating == Rating.UNSATISFIED,
    })
