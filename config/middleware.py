"""Refuse oversized request bodies before anything reads them."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


def accepts_uploads(max_bytes: int, too_large: Callable[[HttpRequest, int], HttpResponse] | None = None):
    """Let a view take bodies up to `max_bytes` (photos), answering `too_large` above it.

    Wrap the outermost view function (after `admin_view`, `csrf_protect` and the like):
    the limit is read from the function the URL resolves to.
    """

    def decorate(view):
        view.max_body_bytes = max_bytes
        view.too_large = too_large
        return view

    return decorate


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class BodySizeLimitMiddleware:
    """Answer 413 when Content-Length exceeds the limit of the view the URL resolves to.

    Django would otherwise read the body first and then answer 400; outside clients
    (SMS gateways, the Weibo relay, API users) are promised a 413 and a JSON body. Pages
    that take photos set a larger limit and their own page with `accepts_uploads`. The
    check runs in process_view, before CSRF's (which reads the form), and bodies of
    unresolvable URLs are never read at all.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        limit = getattr(view_func, "max_body_bytes", settings.MINHU_MAX_BODY_BYTES)
        if _content_length(request) <= limit:
            return None
        too_large = getattr(view_func, "too_large", None)
        if too_large is not None:
            return too_large(request, limit)
        return JsonResponse(
            {"error": "too_large", "detail": f"The request body exceeds {limit} bytes."}, status=413
        )
