"""Messages to units and citizens: who is told what, and how it gets there.

Writing a notice and sending it are apart on purpose. `notify()` writes Notification
rows in the caller's transaction, next to the event that caused them, and asks for a
send only after the commit; the send runs in a Celery task with retries and backoff.
A transition therefore never waits on an SMS gateway and never fails because one is
down, and a notice exists exactly when its cause was committed. `notification_sweep`
resends what no task delivered (the broker was down, a worker died mid-send).

Backends are chosen per channel by settings.MINHU_NOTIFICATION_BACKENDS:
`LogBackend` (development: the log), `HttpSmsBackend` (an SMS gateway over HTTPS),
`EmailBackend` (Django's mail, itself configured by EMAIL_BACKEND/EMAIL_HOST).
"""

import datetime as dt
import json
import logging
import smtplib
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import redis
from celery import current_app

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from departments.models import Unit
from feedback.links import rating_link_create, rating_page_link, with_rating_token
from tickets.models import Channel as TicketChannel
from tickets.models import InboundMessage, Notification, Ticket, TicketEvent
from tickets.selectors import merged_duplicates
from tickets.validation import mask_phone

logger = logging.getLogger(__name__)

Kind, Channel, Status = Notification.Kind, Notification.Channel, Notification.Status
OUTSTANDING = (Status.PENDING, Status.SENDING, Status.RETRYING)

# A sender holds a claimed row this long; a worker that dies mid-send frees it then.
LEASE = dt.timedelta(minutes=5)
# The catch-up leaves fresh rows to the task queued on commit for this long.
CATCH_UP_GRACE = dt.timedelta(seconds=30)

# SMS texts as registered with the gateway (Chinese gateways send approved templates
# only, each under the hotline's signature). {stage} is a stage's Chinese name; {link}
# the ticket's tracking page, which the sender signs for the citizen's phone alone.
TEMPLATES = {
    Kind.ACKNOWLEDGEMENT: "【12345】您反映的问题已登记，工单号{number}。查询办理进度：{link}",
    Kind.RESULT: "【12345】您反映的问题（工单{number}）已办结。答复：{reply} 详情：{link} "
                 "在线评价：{rate_link} 或请回复数字评价：1满意 2基本满意 3不满意。",
    Kind.CLAIM_REMINDER: "【12345】工单{number}已派至贵单位，尚未签收，请于{due}前签收。",
    Kind.WARNING: "【12345】工单{number}{stage}时限将至（{due}），请抓紧办理。",
    Kind.ESCALATION: "【12345】工单{number}（{unit}）已超过{stage}时限（{due}），已升级督办（第{level}级）。",
    Kind.URGING: "【12345】催办：工单{number}（{unit}）已超过办结时限（{due}），请立即办理并回复。",
    Kind.EXTENSION: "【12345】您的工单{number}经批准延期，办结时限调整为{until}。",
    Kind.PAUSE: "【12345】您的工单{number}需补充材料：{reason}。请于{until}前联系承办单位或拨打12345。",
}
# The same notices as comments under a citizen's Weibo post: public, so they carry no
# link that opens the ticket and no rating link (whoever read it first could rate, and
# an "unsatisfied" would reopen the ticket), and they keep within a comment's length.
WEIBO_TEMPLATES = {
    Kind.ACKNOWLEDGEMENT: "您好，您反映的问题已转12345热线办理，工单号{number}，可拨打12345查询进度。",
    Kind.RESULT: "您好，您反映的问题（工单{number}）已办结。答复：{reply}",
    Kind.EXTENSION: "您好，工单{number}经批准延期，办结时限调整为{until}。",
    Kind.PAUSE: "您好，工单{number}需补充材料：{reason}。请于{until}前拨打12345联系。",
}
# Reporters of duplicates merged into the ticket hear its result, but rate nothing.
RESULT_FOR_MERGED = "【12345】您反映的问题已并入工单{number}办理，现已办结。答复：{reply} 详情：{link}"
REPLY_CHARACTERS = {Channel.SMS: 200, Channel.WEIBO: 100}
STAGE_NAMES = {"accept": "受理", "claim": "签收", "resolve": "办结", "feedback": "回访"}


def local(at: dt.datetime | None) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else ""


# -- who is told ---------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """An address on a channel, for a unit's liaison (unit set) or the citizen (unit None)."""

    channel: str
    address: str
    unit: Unit | None = None


def unit_recipients(units: Iterable[Unit | None]) -> list[Recipient]:
    """Return each unit's liaison addresses; a unit with none gets one empty SMS address.

    The empty address is written as a skipped notice, so staff see that a unit was due
    a message and had no liaison to receive it.
    """
    recipients, seen = [], set()
    for unit in units:
        if unit is None or unit.id in seen:
            continue
        seen.add(unit.id)
        mine = [Recipient(Channel.SMS, unit.liaison_phone, unit)] if unit.liaison_phone else []
        if unit.liaison_email:
            mine.append(Recipient(Channel.EMAIL, unit.liaison_email, unit))
        recipients += mine or [Recipient(Channel.SMS, "", unit)]
    return recipients


def citizen_recipients(ticket: Ticket, *, opening: InboundMessage | None = None) -> list[Recipient]:
    """Return where the citizen hears back: their phone by SMS, else under their Weibo post.

    `opening` is the message that opens the ticket, when it is being written with it.
    """
    if ticket.reporter_phone:
        return [Recipient(Channel.SMS, ticket.reporter_phone)]
    if ticket.channel == TicketChannel.WEIBO:
        if opening is not None and opening.outcome == InboundMessage.Outcome.OPENED:
            post = opening.external_id
        else:
            post = (
                ticket.inbound_messages.filter(outcome=InboundMessage.Outcome.OPENED)
                .values_list("external_id", flat=True).first()
            )
        return [Recipient(Channel.WEIBO, post)] if post else []
    return []


def merged_reporters(ticket: Ticket) -> list[Recipient]:
    """Return the recipients of every duplicate merged into the ticket, at any depth."""
    return [recipient for duplicate in merged_duplicates(ticket) for recipient in citizen_recipients(duplicate)]


def tracking_link(number: str) -> str:
    """Return the address of the ticket's tracking page, as the citizen's phone opens it."""
    return settings.MINHU_PUBLIC_URL + reverse("citizen:track", args=[number])


def shorten(text: str, characters: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= characters else text[:characters - 1] + "…"


# -- writing notices (inside the caller's transaction) --------------------------


def _body(kind: str, channel: str, template: str | None, number: str, context: dict) -> str:
    if channel == Channel.WEIBO:
        template = WEIBO_TEMPLATES[kind]
    context = {**context, "number": number, "link": tracking_link(number)}
    if "reply" in context:
        context["reply"] = shorten(context["reply"], REPLY_CHARACTERS.get(channel, 200))
    return (template or TEMPLATES[kind]).format(**context)


def build(event: TicketEvent, kind: str, recipients: Iterable[Recipient], *, template: str | None = None,
          **context) -> list[Notification]:
    """Return unsaved notices of one event, one per distinct address.

    `template` replaces the kind's SMS text (the Weibo text stays the kind's own).
    """
    ticket = event.ticket
    now = timezone.now()
    rows, seen = [], set()
    for r in recipients:
        # Several units sharing one contact hear once; units with none are each recorded.
        key = (r.channel, r.address) if r.address else (r.channel, "", r.unit and r.unit.pk)
        if key in seen:
            continue
        seen.add(key)
        rows.append(Notification(
            ticket=ticket, event=event, kind=kind, recipient_unit=r.unit, channel=r.channel,
            address=r.address, body=_body(kind, r.channel, template, ticket.number, context), created_at=now,
            status=Status.PENDING if r.address else Status.SKIPPED,
            next_attempt_at=now if r.address else None,
            last_error="" if r.address else "The unit has no liaison phone or email.",
        ))
    return rows


def save_and_send(rows: list[Notification]) -> list[Notification]:
    """Insert the notices and queue their sending for after the commit."""
    if not rows:
        return rows
    # ignore_conflicts: a notice already written for this event and address stays
    # the only one (a retried sweep, a replayed task).
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    send_after_commit(rows)
    return rows


def send_after_commit(rows: list[Notification]) -> None:
    """Queue the written notices' sending for after the commit (save_and_send's second half)."""
    # Ids are not returned under ignore_conflicts; find the rows again by their event.
    events = sorted({row.event_id for row in rows if row.address})
    if events:
        # A named function, not a partial: Django logs a failed robust callback by its
        # __qualname__, which a partial lacks.
        def queue_notices() -> None:
            queue_events(events)

        transaction.on_commit(queue_notices, robust=True)


def notify(event: TicketEvent, kind: str, recipients: Iterable[Recipient], **context) -> list[Notification]:
    """Write the notices of one event and queue them to be sent after the commit."""
    return save_and_send(build(event, kind, recipients, **context))


def notify_result(event: TicketEvent) -> list[Notification]:
    """Tell the citizen the verified reply and ask for a rating; tell merged reporters the reply.

    The citizen's SMS carries the round's one-time rating link (feedback.links); a
    public Weibo comment carries none.
    """
    ticket = event.ticket
    citizen = citizen_recipients(ticket)
    if any(recipient.channel == Channel.SMS for recipient in citizen):
        rating_link_create(ticket=ticket, event=event)
    rows = build(event, Kind.RESULT, citizen, reply=ticket.reply, rate_link=rating_page_link(ticket.number))
    rows += build(event, Kind.RESULT, merged_reporters(ticket), template=RESULT_FOR_MERGED, reply=ticket.reply)
    return save_and_send(rows)


# -- the citizen's signed link -----------------------------------------------------------


def _track_signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt="minhu.tracking-link")


def signed_tracking_link(number: str) -> str:
    """Return the tracking link that opens the ticket without its access code.

    Made when the SMS is sent and never stored: the notice keeps the plain link, so
    whoever reads the notices in the back office holds no key to the citizen's page.
    """
    return f"{tracking_link(number)}?k={_track_signer().sign(number).split(':', 1)[1]}"


def tracking_key_valid(number: str, key: str) -> bool:
    try:
        _track_signer().unsign(f"{number}:{key}", max_age=dt.timedelta(days=settings.MINHU_TRACKING_LINK_DAYS))
    except signing.BadSignature:
        return False
    return True


def outgoing_text(notification: Notification) -> str:
    """Return the text as sent: a citizen's result gets its rating token, an SMS its signed link."""
    if notification.recipient_unit_id is not None:
        return notification.body
    number, text = notification.ticket.number, notification.body
    if notification.kind == Kind.RESULT and notification.channel == Channel.SMS:
        text = with_rating_token(text, event_id=notification.event_id, number=number)
    if notification.channel != Channel.SMS:
        return text
    return text.replace(tracking_link(number), signed_tracking_link(number))


# Committed events whose notices wait for a worker: a list on the Redis broker.
WAITING_EVENTS = "minhu:notices:events"
CHUNK = 100


def queue_events(event_ids: list[int]) -> None:
    """Hand the notices of committed events to the workers.

    With a Redis broker the ids join a list there, and only the call that finds the
    list empty publishes a task, which takes the whole list: one Celery message a
    burst, not one a ticket, so a busy webhook spends a list push on its receipt. Should
    that task be lost (the broker failed in between), the catch-up sweep empties the
    list. Other brokers (the embedded demo runs tasks in process) get a task each time.
    """
    from tickets.tasks import notifications_drain_task, notifications_send_task

    client = _broker_redis()
    if client is None:
        notifications_send_task.delay([], event_ids=event_ids)
    elif client.rpush(WAITING_EVENTS, *event_ids) == len(event_ids):
        notifications_drain_task.delay()


def queue_waiting_events() -> int:
    """Move the waiting events to send tasks, a chunk each; return how many there were.

    The list is emptied in one MULTI: an event pushed meanwhile finds it empty and
    publishes the next drain itself.
    """
    from tickets.tasks import notifications_send_task

    client = _broker_redis()
    if client is None:
        return 0
    with client.pipeline() as pipe:
        waiting, _deleted = pipe.lrange(WAITING_EVENTS, 0, -1).delete(WAITING_EVENTS).execute()
    events = sorted({int(event_id) for event_id in waiting})
    for start in range(0, len(events), CHUNK):
        notifications_send_task.delay([], event_ids=events[start:start + CHUNK])
    return len(events)


_broker_clients: dict[str, redis.Redis] = {}


def _broker_redis() -> redis.Redis | None:
    """The Celery broker's Redis (one client a URL, kept), or None for another broker."""
    app = current_app
    url = app.conf.broker_url or ""
    if app.conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        return None
    client = _broker_clients.get(url)
    if client is None:
        options = app.conf.broker_transport_options or {}
        client = _broker_clients[url] = redis.Redis.from_url(
            url, socket_timeout=options.get("socket_timeout"),
            socket_connect_timeout=options.get("socket_connect_timeout"),
        )
    return client


def queue(ids: list[int]) -> None:
    """Hand the notices to the send task, a chunk per message on the broker.

    With the broker down this raises; the caller's commit has happened (on_commit
    with robust=True logs it) and the catch-up sends the rows later.
    """
    from tickets.tasks import notifications_send_task

    for start in range(0, len(ids), 100):
        notifications_send_task.delay(ids[start:start + 100])


# -- sending (in the task) -------------------------------------------------------


class DeliveryError(Exception):
    """The backend could not deliver now; the notice is retried."""


class PermanentDeliveryError(DeliveryError):
    """The backend refused the notice for good (a bad address); it is not retried."""


class LogBackend:
    """Write each notice to the log: development and the embedded demo."""

    def send(self, notification: Notification) -> None:
        address = mask_phone(notification.address) if notification.channel == Channel.SMS else notification.address
        # The stored body, not the text with its signed link: logs are read by many.
        logger.info("Notice %s to %s by %s: %s", notification.id, address, notification.channel, notification.body)


class HttpGatewayBackend:
    """POST each notice as JSON to a gateway over HTTPS, with a bearer token.

    The notice's id goes with it as `ref`, so a gateway that deduplicates by reference
    sends a notice resent after a lost answer only once.
    """

    timeout = 10.0

    def target(self) -> tuple[str, str]:
        """Return the gateway's URL and token (read at each send, so settings can change)."""
        raise NotImplementedError

    def payload(self, notification: Notification) -> dict:
        raise NotImplementedError

    def send(self, notification: Notification) -> None:
        url, token = self.target()
        payload = json.dumps({**self.payload(notification), "ref": f"minhu-{notification.id}"},
                             ensure_ascii=False).encode()
        request = urllib.request.Request(
            url, data=payload, method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            # 4xx but 408/429 is the request's own fault: sending it again changes nothing.
            if 400 <= error.code < 500 and error.code not in (408, 429):
                raise PermanentDeliveryError(f"gateway refused it: HTTP {error.code}") from error
            raise DeliveryError(f"gateway answered HTTP {error.code}") from error
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise DeliveryError(f"gateway unreachable: {error}") from error


class HttpSmsBackend(HttpGatewayBackend):
    """Send SMS through the gateway at MINHU_SMS_GATEWAY_URL (bearer MINHU_SMS_GATEWAY_TOKEN)."""

    def target(self) -> tuple[str, str]:
        return settings.MINHU_SMS_GATEWAY_URL, settings.MINHU_SMS_GATEWAY_TOKEN

    def payload(self, notification: Notification) -> dict:
        return {"to": notification.address, "text": outgoing_text(notification)}


class HttpWeiboBackend(HttpGatewayBackend):
    """Comment under a citizen's post through the Weibo relay at MINHU_WEIBO_RELAY_URL.

    The relay holds the hotline account's Weibo credentials; Minhu holds only its token.
    """

    def target(self) -> tuple[str, str]:
        return settings.MINHU_WEIBO_RELAY_URL, settings.MINHU_WEIBO_RELAY_TOKEN

    def payload(self, notification: Notification) -> dict:
        return {"reply_to": notification.address, "text": outgoing_text(notification)}


class EmailBackend:
    """Send each notice as an email through Django's configured mail backend."""

    def send(self, notification: Notification) -> None:
        subject = notification.body.split("，")[0][:80]
        try:
            send_mail(subject, notification.body, None, [notification.address])
        except smtplib.SMTPRecipientsRefused as error:  # the address itself: retrying will not help
            raise PermanentDeliveryError(f"mail server refused the address: {error}") from error
        except OSError as error:
            raise DeliveryError(f"mail server: {error}") from error


@cache
def _backend(path: str):
    return import_string(path)()


def backend_for(channel: str):
    return _backend(settings.MINHU_NOTIFICATION_BACKENDS[channel])


def backoff(attempts: int) -> float:
    """Seconds to wait before attempt `attempts + 1`: doubling, capped at an hour."""
    return min(settings.MINHU_NOTIFY_BACKOFF_SECONDS * 2 ** (attempts - 1), 3600.0)


def notification_send(*, notification_id: int, now: dt.datetime | None = None) -> float | None:
    """Send one notice if it is still outstanding; return the seconds to its retry, or None.

    The claim is a conditional UPDATE whose row count says who won: of two tasks
    holding the same id (a redelivery, the catch-up), one sends and the other returns.
    """
    now = now or timezone.now()
    claimed = Notification.objects.filter(
        id=notification_id, status__in=OUTSTANDING, next_attempt_at__lte=now
    ).update(status=Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    if not claimed:
        return None
    notification = Notification.objects.get(id=notification_id)
    try:
        backend_for(notification.channel).send(notification)
    except PermanentDeliveryError as error:
        _finish(notification, Status.FAILED, error=str(error))
        return None
    except Exception as error:  # any backend fault is retried, within the limit
        if notification.attempts >= settings.MINHU_NOTIFY_MAX_ATTEMPTS:
            _finish(notification, Status.FAILED, error=f"{error} (gave up after {notification.attempts} attempts)")
            return None
        delay = backoff(notification.attempts)
        _finish(notification, Status.RETRYING, error=str(error),
                next_attempt_at=timezone.now() + dt.timedelta(seconds=delay))
        logger.warning("Notice %s failed (attempt %s), retry in %.0f s: %s",
                       notification.id, notification.attempts, delay, error)
        return delay
    _finish(notification, Status.SENT, sent_at=timezone.now())
    return None


def _finish(notification: Notification, status: str, *, error: str = "",
            next_attempt_at: dt.datetime | None = None, sent_at: dt.datetime | None = None) -> None:
    # Only the holder of the claim records the outcome.
    # A send that outlived its lease may have been claimed again: the attempt count tells.
    Notification.objects.filter(id=notification.id, status=Status.SENDING,
                                attempts=notification.attempts).update(
        status=status, last_error=error[:1000], next_attempt_at=next_attempt_at, sent_at=sent_at
    )


def notification_sweep(*, now: dt.datetime | None = None, limit: int = 2000) -> int:
    """Queue the notices that no task has delivered; return how many were queued."""
    now = now or timezone.now()
    queue_waiting_events()  # a drain task that was never published
    ids = list(
        Notification.objects.filter(status__in=OUTSTANDING, next_attempt_at__lte=now - CATCH_UP_GRACE)
        .order_by("next_attempt_at").values_list("id", flat=True)[:limit]
    )
    if ids:
        queue(ids)
    return len(ids)
