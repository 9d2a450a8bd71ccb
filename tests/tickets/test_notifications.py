"""Notices to units and citizens: written with their cause, sent once, retried, shown scoped.

A notice is the one side effect of a transition that leaves the system, so this module
checks it against real collaborators: PostgreSQL for the claim and the transaction, a
Celery worker consuming from Redis for the retry, and an SMS gateway that really
listens on 127.0.0.1 (an `http.server` in a thread, answering what each test scripts).
"""

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection, transaction
from django.utils import timezone

from tests.factories import make_city, make_ticket
from tickets import notifications, services
from tickets.models import Channel, Notification, State, Ticket
from tickets.notifications import backoff, notification_send
from tickets.sla import sla_sweep
from tickets.tasks import notifications_drain_task, notifications_send_task

Kind, Status = Notification.Kind, Notification.Status
SMS, EMAIL = Notification.Channel.SMS, Notification.Channel.EMAIL
TOKEN = "gateway-token-for-tests"
CITIZEN = "13800138000"
WAIT_SECONDS = 30


# -- an SMS gateway on 127.0.0.1 ----------------------------------------------------


class Gateway:
    """An HTTP server standing in for the SMS gateway: it records each POST and answers it.

    Answers come from `script` in order, then `then` for every later request. A test
    may set `before_answer(request, index)`, run in the server's thread while the
    sender waits for the answer.
    """

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.script: list[int] = []
        self.then = 200
        self.before_answer: Callable[[dict, int], None] | None = None
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = {
                    "path": self.path, "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"), "json": json.loads(body),
                }
                with gateway._lock:
                    index = len(gateway.received)
                    gateway.received.append(request)
                    status = gateway.script.pop(0) if gateway.script else gateway.then
                if gateway.before_answer is not None:
                    gateway.before_answer(request, index)
                answer = json.dumps({"ok": status == 200}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args) -> None:
                pass  # the test reads `received`, not the server's log

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/v1/sms"
        # A short poll interval: shutdown() waits for the loop's next turn.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def answer(self, *statuses: int, then: int = 200) -> None:
        with self._lock:
            self.script, self.then = list(statuses), then

    def refs(self) -> list[str]:
        return [request["json"]["ref"] for request in self.received]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def gateway(settings) -> Iterator[Gateway]:
    """Send SMS to a gateway on 127.0.0.1, retrying after 1 s, 2 s, 4 s …"""
    server = Gateway()
    server.start()
    settings.MINHU_SMS_GATEWAY_URL = server.url
    settings.MINHU_SMS_GATEWAY_TOKEN = TOKEN
    # Backends are cached per dotted path and read the URL and token at each send,
    # so switching the path here is enough for every process-local sender.
    settings.MINHU_NOTIFICATION_BACKENDS = {
        **settings.MINHU_NOTIFICATION_BACKENDS, "sms": "tickets.notifications.HttpSmsBackend",
    }
    settings.MINHU_NOTIFY_BACKOFF_SECONDS = 1  # read by backoff() at each failure
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def broker() -> Iterator[object]:
    """Return the Celery app with an empty Redis queue, emptied again afterwards."""
    from config.celery import app

    assert not app.conf.task_always_eager and app.conf.broker_url.startswith("redis://")
    app.control.purge()  # tasks other tests queued on commit must not be consumed here
    yield app
    app.control.purge()


def _take_one_message(app) -> tuple[str, list]:
    """Take the next message off the default queue: (task name, positional args)."""
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue(app.conf.task_default_queue)
        try:
            message = queue.get(timeout=5)
            message.ack()
            args, kwargs, _embed = message.payload
            return message.headers["task"], args, kwargs
        finally:
            queue.close()


def _queued(app) -> int:
    """Return how many messages wait on the default queue (a Redis list of that name)."""
    import redis

    with redis.Redis.from_url(app.conf.broker_url) as client:
        return client.llen(app.conf.task_default_queue)


def _waiting_events(app) -> list[int]:
    import redis

    with redis.Redis.from_url(app.conf.broker_url) as client:
        return [int(e) for e in client.lrange(notifications.WAITING_EVENTS, 0, -1)]


def _report(city, *, phone: str = CITIZEN, description: str = "小区停水三天") -> Ticket:
    ticket, _code = services.ticket_create(
        category=city.category, actor=city.operator, description=description,
        channel=Channel.PHONE, reporter_phone=phone,
    )
    return ticket


def _acknowledgement(ticket: Ticket) -> Notification:
    return Notification.objects.get(ticket=ticket, kind=Kind.ACKNOWLEDGEMENT)


def _later(hours: int = 1) -> dt.datetime:
    return timezone.now() + dt.timedelta(hours=hours)


def _wait_for(condition: Callable[[], bool], seconds: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


# -- retried by a real worker -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_real_worker_retries_a_gateway_outage_after_the_report_has_committed(gateway, broker):
    from celery.contrib.testing.worker import start_worker

    city = make_city()
    gateway.answer(503, then=200)
    first_request_seen, release = threading.Event(), threading.Event()
    seen_by_gateway: list[dict] = []

    def before_answer(request: dict, index: int) -> None:
        # What another connection sees while the sender waits on the gateway.
        try:
            notice_id = int(request["json"]["ref"].removeprefix("minhu-"))
            notice = Notification.objects.select_related("ticket").get(id=notice_id)
            seen_by_gateway.append({
                "ticket_state": notice.ticket.state, "status": notice.status,
                "attempts": notice.attempts, "last_error": notice.last_error,
            })
        finally:
            connection.close()
        if index == 0:
            first_request_seen.set()
            seen_by_gateway[-1]["answer_held_until_released"] = release.wait(WAIT_SECONDS)

    gateway.before_answer = before_answer
    with start_worker(broker, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        ticket = _report(city)
        # The report is back with its first SMS still unanswered: the gateway holds that
        # answer until the line below, so a report waiting on the send would have hung.
        assert first_request_seen.wait(WAIT_SECONDS)
        release.set()
        notice = _acknowledgement(ticket)
        assert _wait_for(lambda: Notification.objects.get(id=notice.id).status == Status.SENT)

    notice.refresh_from_db()
    assert (notice.status, notice.attempts, notice.last_error) == (Status.SENT, 2, "")
    assert notice.sent_at is not None and notice.next_attempt_at is None
    assert gateway.refs() == [f"minhu-{notice.id}"] * 2
    assert {request["authorization"] for request in gateway.received} == {f"Bearer {TOKEN}"}
    assert gateway.received[0]["content_type"] == "application/json"
    sent = gateway.received[0]["json"]
    assert (sent["to"], sent["ref"]) == (CITIZEN, f"minhu-{notice.id}")
    # The citizen's copy carries the signed link; the stored notice only the plain one.
    text, key = sent["text"].split("?k=")
    assert text == notice.body and notifications.tracking_key_valid(ticket.number, key)
    assert ticket.number in notice.body
    assert seen_by_gateway == [
        # The ticket and its notice were committed, and the row claimed, before the send.
        {"ticket_state": State.REPORTED, "status": Status.SENDING, "attempts": 1, "last_error": "",
         "answer_held_until_released": True},
        # The 503 was recorded before the retry came.
        {"ticket_state": State.REPORTED, "status": Status.SENDING, "attempts": 2,
         "last_error": "gateway answered HTTP 503"},
    ]


# -- what the gateway's answer means ------------------------------------------------


@pytest.mark.parametrize(("http_status", "outcome", "error"), [
    (400, Status.FAILED, "gateway refused it: HTTP 400"),
    (401, Status.FAILED, "gateway refused it: HTTP 401"),
    (404, Status.FAILED, "gateway refused it: HTTP 404"),
    (408, Status.RETRYING, "gateway answered HTTP 408"),
    (429, Status.RETRYING, "gateway answered HTTP 429"),
    (500, Status.RETRYING, "gateway answered HTTP 500"),
    (503, Status.RETRYING, "gateway answered HTTP 503"),
])
def test_a_refusal_fails_a_notice_for_good_and_anything_else_is_retried(
    city, gateway, http_status, outcome, error
):
    notice = _acknowledgement(_report(city))
    gateway.answer(http_status)
    delay = notification_send(notification_id=notice.id)
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, notice.last_error) == (outcome, 1, error)
    if outcome == Status.FAILED:
        assert delay is None and notice.next_attempt_at is None
        assert notification_send(notification_id=notice.id, now=_later(24)) is None
        assert len(gateway.received) == 1  # never asked again
    else:
        assert delay == backoff(1) == 1.0 and notice.next_attempt_at > timezone.now()


def test_an_unreachable_gateway_is_retried(city, gateway, settings):
    with socket.socket() as probe:  # a port nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.MINHU_SMS_GATEWAY_URL = f"http://127.0.0.1:{port}/v1/sms"
    notice = _acknowledgement(_report(city))
    assert notification_send(notification_id=notice.id) == 1.0
    notice.refresh_from_db()
    assert notice.status == Status.RETRYING and notice.last_error.startswith("gateway unreachable")


def test_a_gateway_that_keeps_failing_is_given_up_after_the_attempt_limit(city, gateway, settings):
    settings.MINHU_NOTIFY_MAX_ATTEMPTS = 4
    gateway.answer(then=503)
    notice = _acknowledgement(_report(city))
    delays = []
    for _ in range(6):
        notice.refresh_from_db()
        if notice.next_attempt_at is None:
            break
        # Not a moment before the backoff has passed …
        early = notice.next_attempt_at - dt.timedelta(milliseconds=1)
        assert notification_send(notification_id=notice.id, now=early) is None
        # … and as soon as it has.
        delays.append(notification_send(notification_id=notice.id, now=notice.next_attempt_at))
    notice.refresh_from_db()
    assert delays == [1.0, 2.0, 4.0, None]
    assert (notice.status, notice.attempts) == (Status.FAILED, 4)
    assert notice.last_error == "gateway answered HTTP 503 (gave up after 4 attempts)"
    assert len(gateway.received) == 4
    assert notification_send(notification_id=notice.id, now=_later(24)) is None
    assert len(gateway.received) == 4


def test_backoff_doubles_from_the_setting_and_stops_at_an_hour(settings):
    settings.MINHU_NOTIFY_BACKOFF_SECONDS = 30
    assert [backoff(n) for n in (1, 2, 3, 4, 8, 20)] == [30, 60, 120, 240, 3600, 3600]


# -- exactly once ------------------------------------------------------------------


def test_a_notice_sent_once_is_not_sent_again_by_a_second_call_or_task(city, gateway):
    notice = _acknowledgement(_report(city))
    assert notification_send(notification_id=notice.id) is None
    assert notification_send(notification_id=notice.id, now=_later(24)) is None
    # A redelivered task, or one handed the same id twice, finds it sent.
    assert notifications_send_task.apply(args=([notice.id, notice.id],)).successful()
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (Status.SENT, 1)
    assert gateway.refs() == [f"minhu-{notice.id}"]


def test_one_task_holding_several_notices_sends_each_once(city, gateway):
    notices = [_acknowledgement(_report(city, phone=f"1380013800{i}")) for i in range(3)]
    ids = [n.id for n in notices]
    assert notifications_send_task.apply(args=(ids + ids,)).successful()
    assert sorted(gateway.refs()) == sorted(f"minhu-{i}" for i in ids)
    statuses = Notification.objects.filter(id__in=ids).values_list("status", flat=True)
    assert set(statuses) == {Status.SENT}


def test_a_task_for_a_notice_that_no_longer_exists_returns_quietly(city, gateway):
    notice = _acknowledgement(_report(city))
    Notification.objects.filter(id=notice.id).delete()
    assert notification_send(notification_id=notice.id) is None
    assert notifications_send_task.apply(args=([notice.id],)).successful()
    assert gateway.received == []


def test_a_skipped_notice_is_never_sent(city, gateway):
    ticket = make_ticket(city, State.DISPATCHED)  # the bureau has no liaison
    sla_sweep(now=ticket.claim_due_at + dt.timedelta(seconds=1))
    skipped = Notification.objects.filter(ticket=ticket, status=Status.SKIPPED)
    assert skipped.count() == 2  # the bureau and the district above it have no liaison
    for notice in skipped:
        assert notification_send(notification_id=notice.id, now=_later(24)) is None
    assert skipped.count() == 2
    assert gateway.received == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_senders_racing_for_one_notice_deliver_it_once(gateway, broker):
    city = make_city()
    notice = _acknowledgement(_report(city))
    broker.control.purge()  # the report queued it on commit; these threads are the senders
    senders = 6
    barrier, losers_done = threading.Barrier(senders), []

    def before_answer(request: dict, index: int) -> None:
        # Hold the winner mid-send until every other sender has given up.
        _wait_for(lambda: len(losers_done) == senders - 1, seconds=10)

    def send() -> None:
        try:
            barrier.wait()
            notification_send(notification_id=notice.id)
        finally:
            connection.close()
            losers_done.append(1)

    gateway.before_answer = before_answer
    threads = [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS)
    notice.refresh_from_db()
    assert gateway.refs() == [f"minhu-{notice.id}"]
    assert (notice.status, notice.attempts) == (Status.SENT, 1)


# -- written in the caller's transaction --------------------------------------------


def test_a_report_rolled_back_after_writing_takes_its_notice_with_it(
    city, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            ticket = _report(city, description="回滚的工单")
            assert Notification.objects.filter(ticket=ticket).count() == 1  # written with it
            raise RuntimeError("the caller fails after the service")
    assert not Ticket.objects.filter(description="回滚的工单").exists()
    assert not Notification.objects.exists()
    assert callbacks == []  # and nothing will be queued


def test_the_send_is_queued_on_redis_only_when_the_report_commits(
    city, gateway, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        ticket = _report(city)
        notice = _acknowledgement(ticket)
        assert notice.status == Status.PENDING
    assert _queued(broker) == 0 and gateway.received == []
    # The commit runs the notices' queueing (and the live broadcast, tickets.broadcast).
    queueing = [c for c in callbacks if getattr(c, "__name__", "") == "queue_notices"]
    assert len(queueing) == 1
    queueing[0]()
    # The event waits in the broker's list, and the list's first event publishes its drain.
    assert _queued(broker) == 1 and _waiting_events(broker) == [notice.event_id]
    assert _take_one_message(broker) == ("tickets.tasks.notifications_drain_task", [], {})
    assert notifications_drain_task.apply().get() == 1
    assert _waiting_events(broker) == []
    task, args, kwargs = _take_one_message(broker)
    # The task finds the notices by their event: the request reads nothing back.
    assert (task, args, kwargs) == ("tickets.tasks.notifications_send_task", [[]], {"event_ids": [notice.event_id]})
    # The worker cannot see this test's uncommitted rows; run the queued task here.
    assert notifications_send_task.apply(args=args, kwargs=kwargs).successful()
    notice.refresh_from_db()
    assert notice.status == Status.SENT
    assert gateway.refs() == [f"minhu-{notice.id}"]


# -- who is told --------------------------------------------------------------------


LIAISONS = {
    "wuchang-zhongnan": "13900000001",  # street
    "wuchang": "13900000002",  # district
    "centre": "13900000003",
    "water-group": "13900000004",  # bureau
}


def _give_liaisons(*units) -> None:
    for unit in units:
        unit.liaison_name = "联络员"
        unit.liaison_phone = LIAISONS[unit.code]
        unit.liaison_email = f"{unit.code}@hotline.example.cn"
        unit.save(update_fields=["liaison_name", "liaison_phone", "liaison_email"])


def _told(ticket: Ticket, kind: str) -> set[tuple[str, str, str, str]]:
    return set(
        Notification.objects.filter(ticket=ticket, kind=kind)
        .values_list("recipient_unit__code", "channel", "address", "status")
    )


def _liaison_rows(*units) -> set[tuple[str, str, str, str]]:
    rows = set()
    for unit in units:
        rows |= {(unit.code, SMS, LIAISONS[unit.code], Status.PENDING),
                 (unit.code, EMAIL, f"{unit.code}@hotline.example.cn", Status.PENDING)}
    return rows


def test_a_red_claim_card_tells_the_unit_the_district_above_it_and_the_centre(city):
    _give_liaisons(city.street, city.district, city.centre, city.bureau)
    ticket = make_ticket(city, State.DISPATCHED, unit=city.street)
    sla_sweep(now=ticket.claim_due_at + dt.timedelta(seconds=1))
    assert _told(ticket, Kind.ESCALATION) == _liaison_rows(city.street, city.district, city.centre)
    body = Notification.objects.filter(ticket=ticket, kind=Kind.ESCALATION).first().body
    assert ticket.number in body and city.street.name in body and "签收" in body and "第1级" in body


def test_a_red_card_on_a_unit_under_the_centre_tells_the_centre_once(city):
    _give_liaisons(city.street, city.district, city.centre, city.bureau)
    ticket = make_ticket(city, State.DISPATCHED)  # the bureau, whose parent is the centre
    sla_sweep(now=ticket.claim_due_at + dt.timedelta(seconds=1))
    assert _told(ticket, Kind.ESCALATION) == _liaison_rows(city.bureau, city.centre)


def test_a_yellow_claim_card_reminds_only_the_unit_to_sign_for_it(city):
    _give_liaisons(city.street, city.district, city.centre, city.bureau)
    ticket = make_ticket(city, State.DISPATCHED, unit=city.street)
    sla_sweep(now=ticket.claim_warn_at + dt.timedelta(seconds=1))
    assert ticket.claim_warn_at + dt.timedelta(seconds=1) < ticket.claim_due_at
    assert _told(ticket, Kind.CLAIM_REMINDER) == _liaison_rows(city.street)
    assert not Notification.objects.filter(ticket=ticket, kind=Kind.ESCALATION).exists()


def test_a_unit_without_a_liaison_gets_one_skipped_notice(city, django_capture_on_commit_callbacks):
    _give_liaisons(city.centre)
    ticket = make_ticket(city, State.DISPATCHED)  # the bureau has none
    with django_capture_on_commit_callbacks() as callbacks:
        sla_sweep(now=ticket.claim_due_at + dt.timedelta(seconds=1))
    assert _told(ticket, Kind.ESCALATION) == (
        {("water-group", SMS, "", Status.SKIPPED)} | _liaison_rows(city.centre)
    )
    skipped = Notification.objects.get(ticket=ticket, status=Status.SKIPPED)
    assert skipped.last_error == "The unit has no liaison phone or email."
    assert skipped.attempts == 0 and skipped.next_attempt_at is None
    # The centre's two notices are queued after the commit (beside the live broadcast).
    assert [getattr(c, "__name__", "") for c in callbacks].count("queue_notices") == 1


def test_every_unit_without_a_liaison_gets_its_own_skipped_notice(city):
    _give_liaisons(city.centre)
    ticket = make_ticket(city, State.DISPATCHED, unit=city.street)  # street and district have none
    sla_sweep(now=ticket.claim_due_at + dt.timedelta(seconds=1))
    skipped = set(
        Notification.objects.filter(ticket=ticket, status=Status.SKIPPED)
        .values_list("recipient_unit__code", flat=True)
    )
    assert skipped == {"wuchang-zhongnan", "wuchang"}


def test_the_citizen_gets_an_acknowledgement_when_a_phone_was_given(city):
    ticket = _report(city, phone="138-0013-8000")
    notice = _acknowledgement(ticket)
    assert (notice.recipient_unit, notice.channel, notice.address, notice.status) == (
        None, SMS, CITIZEN, Status.PENDING
    )
    assert ticket.number in notice.body and notice.event.kind == "report"


def test_the_citizen_gets_no_acknowledgement_without_a_phone(city):
    ticket, _code = services.ticket_create(
        category=city.category, actor=city.operator, description="路灯不亮", channel=Channel.STAFF,
    )
    assert not Notification.objects.filter(ticket=ticket).exists()


def test_a_pause_asks_the_citizen_for_the_material_by_sms(city):
    ticket = make_ticket(city, State.IN_PROGRESS)
    until = timezone.now() + dt.timedelta(days=3)
    services.ticket_pause(ticket_id=ticket.id, actor=city.handler, reason="请提供停水照片", until=until)
    notice = Notification.objects.get(ticket=ticket, kind=Kind.PAUSE)
    assert (notice.recipient_unit, notice.address, notice.status) == (None, CITIZEN, Status.PENDING)
    assert "请提供停水照片" in notice.body


# -- the admin's list -----------------------------------------------------------------


def test_a_handler_sees_only_its_units_notices_with_the_citizens_phone_masked(client, city):
    _give_liaisons(city.bureau, city.centre)
    own = make_ticket(city, State.DISPATCHED, reporter_phone=CITIZEN)
    other = make_ticket(city, State.DISPATCHED, unit=city.street, reporter_phone="13900139000")
    sla_sweep(now=own.claim_due_at + dt.timedelta(seconds=1))
    client.force_login(city.handler)
    page = client.get("/admin/tickets/notification/")
    assert page.status_code == 200
    listing = page.content.decode()
    assert own.number in listing and other.number not in listing
    assert "138****8000" in listing and CITIZEN not in listing
    assert "139****9000" not in listing and "13900139000" not in listing
    assert LIAISONS["water-group"] in listing  # a liaison's number is a work number: in full
    hidden = _acknowledgement(other)
    assert client.get(f"/admin/tickets/notification/{hidden.id}/change/").status_code in (302, 404)


@pytest.mark.parametrize("page", ["change", "history"])
def test_a_handler_never_sees_the_citizens_full_phone_on_a_notice_page(client, city, page):
    notice = _acknowledgement(make_ticket(city, State.DISPATCHED, reporter_phone=CITIZEN))
    client.force_login(city.handler)
    response = client.get(f"/admin/tickets/notification/{notice.id}/{page}/")
    assert response.status_code == 200
    assert CITIZEN not in response.content.decode()


def test_the_dispatcher_sees_every_notice_in_full(client, city):
    own = make_ticket(city, State.DISPATCHED, reporter_phone=CITIZEN)
    other = make_ticket(city, State.DISPATCHED, unit=city.street, reporter_phone="13900139000")
    client.force_login(city.dispatcher)
    listing = client.get("/admin/tickets/notification/").content.decode()
    assert own.number in listing and other.number in listing
    assert CITIZEN in listing and "13900139000" in listing
    assert "****" not in listing


# -- a mail server on 127.0.0.1 ---------------------------------------------------------


class MailServer:
    """A minimal SMTP server that refuses recipients whose address starts with 'nobody'."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.delivered: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as lines:
                conn.sendall(b"220 mail.test ESMTP\r\n")
                rcpt, in_data = None, False
                for raw in lines:
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    if in_data:
                        if line == ".":
                            in_data = False
                            self.delivered.append(rcpt)
                            conn.sendall(b"250 queued\r\n")
                        continue
                    verb = line[:4].upper()
                    if verb == "RCPT":
                        rcpt = line.split(":", 1)[1].strip(" <>")
                        refused = rcpt.startswith("nobody")
                        conn.sendall(b"550 no such user\r\n" if refused else b"250 ok\r\n")
                    elif verb == "DATA":
                        in_data = True
                        conn.sendall(b"354 go ahead\r\n")
                    elif verb == "QUIT":
                        conn.sendall(b"221 bye\r\n")
                        break
                    else:  # EHLO, HELO, MAIL, RSET, NOOP
                        conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self.listener.close()


def test_a_refused_mail_address_fails_at_once_and_a_good_one_is_delivered(city, settings):
    server = MailServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", server.port, False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    ticket = _report(city)
    event = ticket.events.latest("id")
    refused, good = Notification.objects.bulk_create(
        Notification(ticket=ticket, event=event, kind=Kind.WARNING, channel=EMAIL, address=address,
                     body="【12345】预警：测试", next_attempt_at=timezone.now(), created_at=timezone.now())
        for address in ("nobody@units.example.org", "liaison@units.example.org")
    )
    try:
        assert notification_send(notification_id=refused.id) is None
        assert notification_send(notification_id=good.id) is None
    finally:
        server.close()

    refused.refresh_from_db()
    good.refresh_from_db()
    assert (refused.status, refused.attempts) == (Status.FAILED, 1)
    assert "refused the address" in refused.last_error
    assert (good.status, good.attempts) == (Status.SENT, 1)
    assert server.delivered == ["liaison@units.example.org"]


@pytest.mark.parametrize(("who", "shown_in_full"), [("handler", False), ("dispatcher", True)])
def test_the_ticket_page_shows_the_reporter_in_full_to_the_centre_only(client, city, who, shown_in_full):
    ticket = make_ticket(city, State.DISPATCHED, reporter_phone=CITIZEN)
    Ticket.objects.filter(id=ticket.id).update(reporter_name="张三丰")
    client.force_login(getattr(city, who))
    page = client.get(f"/admin/tickets/ticket/{ticket.id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert (CITIZEN in html, "张三丰" in html) == (shown_in_full, shown_in_full)
    if not shown_in_full:
        assert "138****8000" in html


def test_a_burst_of_reports_publishes_one_drain_and_the_sweep_empties_a_list_left_behind(
    city, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = _acknowledgement(_report(city, description="第一件"))
    with django_capture_on_commit_callbacks(execute=True):
        second = _acknowledgement(_report(city, description="第二件"))
    # The second event joined the list the first one's drain will take: no second message.
    assert _waiting_events(broker) == [first.event_id, second.event_id]
    assert _queued(broker) == 1
    broker.control.purge()  # that drain is lost: the broker failed after the push
    with django_capture_on_commit_callbacks(execute=True):
        third = _acknowledgement(_report(city, description="第三件"))
    assert _queued(broker) == 0  # the list was not empty, so nothing was published
    # The catch-up sweep empties the list into send tasks; the next event drains again.
    notifications.notification_sweep()
    assert _waiting_events(broker) == []
    assert _take_one_message(broker) == (
        "tickets.tasks.notifications_send_task", [[]],
        {"event_ids": [first.event_id, second.event_id, third.event_id]},
    )
