"""The Open311 GeoReport v2 server (design §4) under /open311/v2/, XML or JSON by extension.

Each view reads the query or the form, calls one selector or service and renders the
answer; every refusal is the spec's error list with its status: 403 for the api_key,
404 for what does not exist, 400 for anything else wrong with the input. POSTs come
from machines that authenticate with their api_key, never a session: no CSRF check.
"""

import datetime as dt
import functools
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django_ratelimit.core import is_ratelimited

from config.middleware import accepts_uploads
from tickets.errors import InvalidInput, TicketError
from tickets.intake import open311_selectors as read
from tickets.intake.open311_render import FORMATS, format_of, respond, respond_errors
from tickets.intake.open311_services import (
    open311_key_check,
    open311_request_create,
    open311_update_create,
    parse_w3c_datetime,
)
from tickets.models import Open311Key

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this server's Open311 interface last changed (discovery's changeset).
CHANGESET = "2026-11-24T00:00:00+08:00"

# Our services' field names for theirs, in the errors a client reads.
_SPEC_FIELDS = {"lng": "long", "address": "address_string", "name": "first_name", "location": "lat"}


def _error(fmt: str, error: TicketError) -> HttpResponse:
    status = error.status if error.status in (403, 404) else 400
    if not error.fields:
        return respond_errors(fmt, status, [error.detail])
    return respond_errors(fmt, status, [
        f"{_SPEC_FIELDS.get(field, field)}: {message}" for field, messages in error.fields.items() for message in messages
    ])


def _too_large(request: HttpRequest, limit: int) -> HttpResponse:
    return respond_errors(format_of(request.path), 413, [
        gettext("The request body exceeds %(limit)d bytes.") % {"limit": limit}
    ])


def endpoint(*methods: str) -> Callable:
    """Make an Open311 view: its format from the extension, its methods, errors in the spec's format."""
    allowed = [*methods, "HEAD"] if "GET" in methods else list(methods)

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @accepts_uploads(settings.MINHU_MAX_BODY_BYTES, too_large=_too_large)
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, fmt: str, **kwargs) -> HttpResponse:
            if fmt not in FORMATS:
                return respond_errors("xml", 404, [gettext("No format %(format)s: use xml or json.") % {"format": fmt}])
            if request.method not in allowed:
                return respond_errors(fmt, 405, [
                    gettext("%(method)s is not allowed here.") % {"method": request.method}
                ], headers={"Allow": ", ".join(allowed)})
            try:
                return view(request, fmt, *args, **kwargs)
            except TicketError as error:
                return _error(fmt, error)
            except RequestDataTooBig:
                return _too_large(request, settings.MINHU_MAX_BODY_BYTES)
            except TooManyFieldsSent:
                return respond_errors(fmt, 400, [gettext("The form has too many fields.")])

        return wrapper

    return decorate


# -- query parameters ----------------------------------------------------------------------

def _key(params: QueryDict) -> Open311Key | None:
    """The client's key when it gives one (it sees its own requests in full); a bad one is refused."""
    raw = params.get("api_key", "").strip()
    return open311_key_check(raw) if raw else None


def _window(params: QueryDict) -> tuple[dt.datetime, dt.datetime]:
    """Return the spec's date window: the last 90 days unless asked, never more than 90 days."""
    start_raw, end_raw = params.get("start_date", "").strip(), params.get("end_date", "").strip()
    start = parse_w3c_datetime(start_raw, field="start_date") if start_raw else None
    end = parse_w3c_datetime(end_raw, field="end_date") if end_raw else None
    if start is None and end is None:
        end = timezone.now()
    if start is None:
        start = end - read.WINDOW
    if end is None:
        end = start + read.WINDOW
    if end < start:
        raise InvalidInput(gettext("end_date is before start_date."))
    if end - start > read.WINDOW:
        raise InvalidInput(gettext("start_date and end_date may not span more than 90 days."))
    return start, end


def _whole_number(params: QueryDict, name: str, default: int, maximum: int) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise InvalidInput(gettext("%(name)s must be a whole number from 1 to %(maximum)d.") % {
            "name": name, "maximum": maximum,
        })
    return int(raw)


def _page(params: QueryDict) -> tuple[int, int]:
    """Return (offset, limit) of the page asked (page, page_size: 1,000 a page unless asked for fewer)."""
    size = _whole_number(params, "page_size", read.MAX_RESULTS, read.MAX_RESULTS)
    page = _whole_number(params, "page", 1, 10**6)
    return (page - 1) * size, size


def _list(params: QueryDict, name: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in params.get(name, "").split(",") if v.strip()))


# -- the endpoints -------------------------------------------------------------------------

@endpoint("GET")
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    """Tell clients where this server is, which specification it follows and in which formats."""
    return respond(fmt, "discovery", {
        "changeset": CHANGESET,
        "contact": gettext("The city's 12345 citizen hotline: call 12345."),
        "key_service": gettext("API keys are issued by the hotline's administrators on request."),
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": request.build_absolute_uri(reverse("open311:root")).rstrip("/"),
            "changeset": CHANGESET,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    })


@endpoint("GET")
def services(request: HttpRequest, fmt: str) -> HttpResponse:
    return respond(fmt, "services", read.open311_services())


@endpoint("GET")
def service_definition(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    return respond(fmt, "service_definition", read.open311_service_definition(code))


@endpoint("GET", "POST")
def service_requests(request: HttpRequest, fmt: str) -> HttpResponse:
    """List requests (GET, with the spec's filters) or send one (POST, form-encoded, with api_key)."""
    if request.method == "POST":
        return _request_create(request, fmt)
    params = request.GET
    key = _key(params)
    numbers = _list(params, "service_request_id")
    if len(numbers) > read.MAX_RESULTS:
        raise InvalidInput(gettext("At most %(count)d service_request_id at once.") % {"count": read.MAX_RESULTS})
    statuses = tuple(s.lower() for s in _list(params, "status"))
    if set(statuses) - {"open", "closed"}:
        raise InvalidInput(gettext("status is open, closed, or both comma-separated."))
    start, end = _window(params)
    offset, limit = _page(params)
    tickets = read.open311_request_list(read.RequestQuery(
        start=start, end=end, offset=offset, limit=limit, numbers=numbers,
        service_codes=_list(params, "service_code"), statuses=statuses,
    ))
    return respond(fmt, "service_requests", read.open311_requests_as_seen(tickets, key=key))


def _posting_key(request: HttpRequest) -> Open311Key:
    return open311_key_check(request.POST.get("api_key", "").strip() or request.GET.get("api_key", "").strip())


def _over_rate(request: HttpRequest, key: Open311Key) -> bool:
    # Counted per key once the key is known good: unknown keys cost a hash lookup only,
    # and one client's burst never throttles another's.
    return is_ratelimited(request, group="open311-post", key=lambda _group, _request: str(key.pk),
                          rate=settings.MINHU_OPEN311_RATE, increment=True)


def _limited(fmt: str) -> HttpResponse:
    return respond_errors(fmt, 429, [gettext("Too many requests with this api_key; wait a minute.")],
                          headers={"Retry-After": "60"})


def _request_create(request: HttpRequest, fmt: str) -> HttpResponse:
    key = _posting_key(request)
    if _over_rate(request, key):
        return _limited(fmt)
    form = dict(request.POST.lists())
    ticket, token = open311_request_create(key=key, form=form)
    return respond(fmt, "service_requests", [{
        "service_request_id": ticket.number, "token": token, "service_notice": "",
        "account_id": request.POST.get("account_id", ""),
    }])


@endpoint("GET")
def request_detail(request: HttpRequest, fmt: str, number: str) -> HttpResponse:
    key = _key(request.GET)
    return respond(fmt, "service_requests", read.open311_requests_as_seen([read.open311_request(number)], key=key))


@endpoint("GET")
def token(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    return respond(fmt, "service_requests", [read.open311_token(token)])


@endpoint("GET", "POST")
def updates(request: HttpRequest, fmt: str) -> HttpResponse:
    """FixMyStreet's servicerequestupdates: the public history lines (GET), or a citizen's update (POST)."""
    if request.method == "POST":
        key = _posting_key(request)
        if _over_rate(request, key):
            return _limited(fmt)
        event = open311_update_create(key=key, form=dict(request.POST.lists()))
        return respond(fmt, "service_request_updates", [{"update_id": str(event.id)}])
    params = request.GET
    key = _key(params)
    start, end = _window(params)
    offset, limit = _page(params)
    return respond(fmt, "service_request_updates", read.open311_updates(
        start=start, end=end, offset=offset, limit=limit, key=key,
    ))


@csrf_exempt
def not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """Answer any other URL under /open311/v2/ with the spec's 404."""
    return respond_errors(format_of(request.path), 404, [gettext("No such Open311 endpoint.")])
