"""Refuse oversized request bodies before anything reads them."""

from django.conf import settings
from django.http import JsonResponse


class BodySizeLimitMiddleware:
    """Answer 413 with the API's JSON error when Content-Length exceeds the limit.

    Django would otherwise read the body first and then answer 400; outside clients
    (SMS gateways, the Weibo relay, API users) are promised a 413 and a JSON body.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MINHU_MAX_BODY_BYTES:
            return JsonResponse(
                {
                    "error": "too_large",
                    "detail": f"The request body exceeds {settings.MINHU_MAX_BODY_BYTES} bytes.",
                },
                status=413,
            )
        return self.get_response(request)
