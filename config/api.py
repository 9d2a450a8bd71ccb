"""API plumbing shared by every app: the one error format and cursor pagination.

Every API error is JSON `{"error": code, "detail": text}`, field errors add `fields`
(design §4); outside clients branch on `error`, people read `detail`.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from tickets.errors import TicketError

_CODES = {
    exceptions.NotAuthenticated: "unauthenticated",
    exceptions.AuthenticationFailed: "unauthenticated",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "malformed",
    exceptions.ValidationError: "invalid",
}


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


def exception_handler(exc, context):
    """Render domain, DRF and Django errors in the contract's format."""
    if isinstance(exc, TicketError):
        body = {"error": exc.code, "detail": exc.detail}
        if exc.fields:
            body["fields"] = exc.fields
        return Response(body, status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        return Response({"error": "too_large", "detail": "The request body is too large."}, status=413)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if not isinstance(exc, exceptions.APIException):
        return None
    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body = {"error": code, "detail": _flatten(fields), "fields": fields}
    else:
        body = {"error": code, "detail": _flatten(exc.detail)}
    return Response(body, status=exc.status_code, headers=headers)


def json_not_found(request, exception=None):
    """A JSON 404 for unknown URLs under the API and webhook prefixes, HTML elsewhere."""
    if request.path.startswith(("/api/", "/intake/")):
        return JsonResponse({"error": "not_found", "detail": "No such endpoint."}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


class NewestFirstCursorPagination(CursorPagination):
    """Keyset pages (`{"next", "previous", "results"}`): no COUNT(*), no OFFSET scans."""

    ordering = "-id"
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


class ReportedCursorPagination(NewestFirstCursorPagination):
    """Pages of a report-date window, walking the `reported_at` index.

    Ids rise with time, but the planner assumes matches are spread evenly along the
    primary key and scans it backwards through every newer ticket first.
    """

    ordering = ("-reported_at", "-id")


class TreeCursorPagination(CursorPagination):
    ordering = "path"
    page_size = 200
    page_size_query_param = "page_size"
    max_page_size = 500


class CodeCursorPagination(TreeCursorPagination):
    ordering = "code"
