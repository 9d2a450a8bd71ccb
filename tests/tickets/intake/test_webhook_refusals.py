"""What both webhooks refuse, and that a refusal creates nothing and logs no secret."""

import json
import logging
import time

import pytest

from tests.tickets.intake.conftest import SECRETS, sms, weibo
from tickets.models import InboundMessage, Ticket

PAYLOADS = {"sms": sms, "weibo": weibo}
CHANNELS = pytest.mark.parametrize("channel", ["sms", "weibo"])


def _nothing_created():
    return Ticket.objects.count() == 0 and InboundMessage.objects.count() == 0


def _refused(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error and body["detail"], body
    assert _nothing_created()
    return body


@CHANNELS
def test_a_signed_delivery_opens_a_ticket(channel, deliver):
    response = deliver(channel, PAYLOADS[channel]())

    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get()
    assert response.json() == {"number": ticket.number, "state": "reported"}
    assert ticket.channel == channel


@CHANNELS
def test_a_delivery_without_its_signing_headers_is_refused(channel, deliver):
    body = _refused(deliver(channel, PAYLOADS[channel](), headers={}), 401, "unauthenticated")
    assert "X-Minhu-Signature" in body["detail"]


@CHANNELS
def test_a_wrong_signature_is_refused(channel, deliver):
    _refused(deliver(channel, PAYLOADS[channel](), signature="0" * 64), 401, "unauthenticated")


@CHANNELS
def test_another_channels_secret_does_not_sign_for_this_one(channel, deliver):
    other = SECRETS["weibo" if channel == "sms" else "sms"]
    _refused(deliver(channel, PAYLOADS[channel](), secret=other), 401, "unauthenticated")


@CHANNELS
def test_a_body_changed_after_signing_is_refused(channel, deliver):
    from tickets.intake.common import sign

    stamp = str(int(time.time()))
    signed = json.dumps(PAYLOADS[channel]()).encode()
    changed = json.dumps(PAYLOADS[channel](text="另一段话")).encode()
    response = deliver(channel, changed, headers={
        "X-Minhu-Timestamp": stamp, "X-Minhu-Signature": sign(SECRETS[channel], stamp, signed),
    })
    _refused(response, 401, "unauthenticated")


@CHANNELS
@pytest.mark.parametrize("offset", [-305, 305, -100000])
def test_a_stale_or_future_timestamp_is_refused(channel, offset, deliver):
    body = _refused(deliver(channel, PAYLOADS[channel](), timestamp=int(time.time()) + offset), 401,
                    "unauthenticated")
    assert "300 seconds" in body["detail"]


@CHANNELS
def test_a_timestamp_inside_the_window_is_taken(channel, deliver):
    assert deliver(channel, PAYLOADS[channel](), timestamp=int(time.time()) - 290).status_code == 201


@CHANNELS
@pytest.mark.parametrize("stamp", ["", "soon", "1.5e9", "-1700000000", "17000000000000"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(channel, stamp, deliver):
    from tickets.intake.common import sign

    body = json.dumps(PAYLOADS[channel]()).encode()
    response = deliver(channel, body, headers={
        "X-Minhu-Timestamp": stamp, "X-Minhu-Signature": sign(SECRETS[channel], stamp, body),
    })
    _refused(response, 401, "unauthenticated")


@CHANNELS
def test_an_old_secret_still_signs_during_a_rotation(channel, deliver, settings):
    settings.MINHU_INTAKE_SECRETS = {**settings.MINHU_INTAKE_SECRETS, channel: ["new-secret-0123456789", SECRETS[channel]]}
    assert deliver(channel, PAYLOADS[channel]()).status_code == 201
    assert deliver(channel, PAYLOADS[channel](message_id="sms-2", mid="502"),
                   secret="new-secret-0123456789").status_code == 201


@CHANNELS
def test_a_channel_without_a_secret_takes_nothing(channel, deliver, settings):
    settings.MINHU_INTAKE_SECRETS = {**settings.MINHU_INTAKE_SECRETS, channel: []}
    _refused(deliver(channel, PAYLOADS[channel]()), 503, "not_configured")


@CHANNELS
@pytest.mark.parametrize("body", [b"{not json", b'{"text": "\xff\xfe"}', b"[1, 2]", b'"text"', b"",
                                  b'{"message_id": NaN}', b"[" * 30000 + b"]" * 30000])
def test_a_body_that_is_not_a_json_object_is_malformed(channel, body, deliver):
    _refused(deliver(channel, body), 400, "malformed")


@CHANNELS
def test_a_body_over_64_kib_gets_413(channel, deliver):
    payload = PAYLOADS[channel](text="长" * 30000)
    _refused(deliver(channel, payload), 413, "too_large")


@CHANNELS
def test_the_webhook_answers_only_post(channel, client):
    response = client.get(f"/intake/{channel}/")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["error"] == "method_not_allowed"


SMS_FIELDS = ["message_id", "from", "text", "received_at"]
WEIBO_FIELDS = ["mid", "user", "text", "created_at"]


@pytest.mark.parametrize("channel,field", [("sms", f) for f in SMS_FIELDS] + [("weibo", f) for f in WEIBO_FIELDS])
def test_a_missing_field_is_named(channel, field, deliver):
    payload = PAYLOADS[channel]()
    del payload[field]
    body = _refused(deliver(channel, payload), 400, "invalid")
    assert list(body["fields"]) == [field]


@pytest.mark.parametrize("channel,field,value", [
    ("sms", "message_id", 12345), ("sms", "message_id", ""), ("sms", "message_id", " padded "),
    ("sms", "message_id", "x" * 101), ("sms", "from", 13800138000), ("sms", "from", "not a phone"),
    ("sms", "text", ["停水"]), ("sms", "text", "   "), ("sms", "received_at", "yesterday"),
    ("sms", "received_at", "2026-11-24T09:30:00"), ("sms", "received_at", 1764000000),
    ("weibo", "mid", 5012345678901234), ("weibo", "user", "1001"), ("weibo", "user", {"id": 1001}),
    ("weibo", "user", {"id": "1001", "screen_name": 7}), ("weibo", "text", None),
    ("weibo", "repost_of", 5012), ("weibo", "repost_of", ""),
    ("weibo", "geo", [30.5, 114.3]), ("weibo", "geo", {"lat": 91, "lng": 114.3}),
    ("weibo", "geo", {"lat": "north", "lng": 114.3}), ("weibo", "geo", {"lat": True, "lng": 114.3}),
    ("weibo", "geo", {"lat": 30.5}), ("weibo", "pics", "https://wx1.sinaimg.cn/a.jpg"),
    ("weibo", "pics", ["javascript:alert(1)"]), ("weibo", "pics", [42]),
    ("weibo", "pics", ["https://wx1.sinaimg.cn/a.jpg"] * 19), ("weibo", "created_at", "2026-13-45"),
])
def test_a_field_of_the_wrong_type_or_shape_is_named(channel, field, value, deliver):
    payload = PAYLOADS[channel]()
    payload[field] = value
    body = _refused(deliver(channel, payload), 400, "invalid")
    assert [name.split(".")[0] for name in body["fields"]] == [field], body


HOSTILE_TEXT = [
    "路灯坏了😡🔥👍🏽 家里的🐱也吓坏了",
    "‮العربية‬ right-to-left 中文混排",
    "零\u200b宽\u200c字\u200d符\ufeff在这里",
    "<script>alert('x')</script><b>粗体</b>",
    "'; DROP TABLE tickets_ticket; -- 和 1' OR '1'='1",
]


@CHANNELS
@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_hostile_text_is_kept_verbatim(channel, text, deliver):
    response = deliver(channel, PAYLOADS[channel](text=text))

    assert response.status_code == 201, response.content
    message = InboundMessage.objects.get()
    assert message.text == text and text in message.raw
    assert Ticket.objects.get().description == text.strip()


def test_html_in_a_message_is_escaped_on_the_dispatchers_page(deliver, city, browse):
    deliver("sms", sms(text="<script>alert('x')</script>路灯坏了"))
    ticket = Ticket.objects.get()

    page = browse(city.dispatcher).get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "&lt;script&gt;alert(" in page and "<script>alert(" not in page


@CHANNELS
def test_refusals_never_log_the_secret_or_the_signature(channel, deliver, caplog):
    caplog.set_level(logging.DEBUG)
    stamp = str(int(time.time()))
    deliver(channel, PAYLOADS[channel](), signature="a" * 64)
    deliver(channel, PAYLOADS[channel](), timestamp=int(stamp) - 1000)
    deliver(channel, b"{broken")

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "refused" in logged
    assert SECRETS[channel] not in logged and "a" * 64 not in logged
