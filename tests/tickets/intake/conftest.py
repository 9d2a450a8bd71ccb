import json
import time

import pytest
from django.test import Client

from tickets.intake.common import sign

SECRETS = {"sms": "sms-secret-for-tests-0001", "weibo": "weibo-secret-for-tests-0001"}


@pytest.fixture(autouse=True)
def _intake_secrets(settings):
    settings.MINHU_INTAKE_SECRETS = {channel: [secret] for channel, secret in SECRETS.items()}


@pytest.fixture
def deliver(db):
    """Return a function that POSTs a signed delivery to a channel's webhook.

    `payload` is a dict (sent as JSON) or bytes (sent as they are); `timestamp`,
    `signature` and `secret` override what a correct gateway would send, and
    `headers` replaces the signing headers entirely.
    """

    def post(channel: str, payload, *, timestamp=None, signature=None, secret=None, headers=None,
             client: Client | None = None):
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        stamp = str(int(time.time())) if timestamp is None else str(timestamp)
        if headers is None:
            headers = {
                "X-Minhu-Timestamp": stamp,
                "X-Minhu-Signature": signature or sign(secret or SECRETS[channel], stamp, body),
            }
        return (client or Client(HTTP_ACCEPT_LANGUAGE="en")).post(
            f"/intake/{channel}/", data=body, content_type="application/json", headers=headers,
        )

    return post


def sms(message_id="sms-1", text="我家停水了，请尽快处理", sender="13800138000", **fields):
    return {"message_id": message_id, "from": sender, "text": text,
            "received_at": "2026-11-24T09:30:00+08:00", **fields}


def weibo(mid="5012345678901234", text="@武汉12345 中南路路灯坏了一周了", user_id="1001", repost_of=None,
          **fields):
    return {"mid": mid, "user": {"id": user_id, "screen_name": f"市民{user_id}"}, "text": text,
            "created_at": "2026-11-24T09:30:00+08:00", "repost_of": repost_of, "geo": None, "pics": [],
            **fields}

