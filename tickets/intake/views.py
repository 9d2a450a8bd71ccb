"""The webhook endpoints: authenticate, read, hand to the channel, answer in JSON.

Plain Django views, not DRF: gateways call these hundreds of times a second, and
they need none of DRF's negotiation. Every refusal is `{"error", "detail"}` (with
`fields` for field errors) and creates nothing; the log names the channel and the
reason, never a secret or a signature.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from tickets.errors import TicketError
from tickets.intake import common
from tickets.intake.common import Received, Refused
from tickets.intake.sms import sms_receive
from tickets.intake.weibo import weibo_receive
from tickets.models import Channel

logger = logging.getLogger(__name__)


def _error(status: int, code: str, detail: str, fields: dict | None = None) -> JsonResponse:
    body = {"error": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def _webhook(channel: str, receive: Callable[..., Received]):
    @csrf_exempt
    def view(request: HttpRequest) -> JsonResponse:
        if request.method != "POST":
            response = _error(405, "method_not_allowed", _("Deliver messages with POST."))
            response["Allow"] = "POST"
            return response
        limit = settings.MINHU_MAX_BODY_BYTES
        try:
            body = request.body
        except RequestDataTooBig:
            body = None
        if body is None or len(body) > limit:  # a chunked body has no Content-Length to check
            return _error(413, "too_large", _("The body exceeds %(limit)d bytes.") % {"limit": limit})
        try:
            common.verify_signature(
                channel=channel, timestamp=request.headers.get("X-Minhu-Timestamp"),
                signature=request.headers.get("X-Minhu-Signature"), body=body,
            )
            payload = common.read_object(body)
            received = receive(payload=payload, raw=body.decode("utf-8"))
        except Refused as refusal:
            logger.warning("Intake %s refused (%s): %s", channel, refusal.status, refusal.detail)
            return _error(refusal.status, refusal.code, refusal.detail, refusal.fields)
        except TicketError as error:
            logger.info("Intake %s refused (%s): %s", channel, error.status, error.detail)
            return _error(error.status, error.code, error.detail, error.fields)
        ticket = received.ticket
        return JsonResponse({"number": ticket.number, "state": ticket.state},
                            status=201 if received.is_new_ticket else 200)

    view.__name__ = f"{channel}_webhook"
    return view


sms_webhook = _webhook(Channel.SMS, sms_receive)
weibo_webhook = _webhook(Channel.WEIBO, weibo_receive)
