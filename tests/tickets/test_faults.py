"""Faults the hotline must ride out: the broker gone for a while, a worker killed mid-sweep.

Both run against real processes: a redis-server of the test's own, stopped and started
again on the same port, and a Celery worker in a process of its own that is SIGKILLed
while its sweep waits on PostgreSQL. Nothing is mocked; what is checked is what the
database holds afterwards: every card once, every notice sent once.
"""

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import kombu.pools
import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from departments.services import unit_upsert
from tests.factories import make_city, make_ticket
from tests.ports import spare_port
from tickets import services
from tickets.models import DeadlineAlert, Notification, State, Ticket, TicketEvent
from tickets.notifications import CATCH_UP_GRACE, notification_sweep
from tickets.sla import SWEEP_BATCH, sla_sweep

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# A broker call that hangs would hang the request that made it. Publishing gives up
# within about two seconds (CELERY_BROKER_CONNECTION_TIMEOUT and the publish retry
# policy); this bound only tells "gave up" from "hangs", it measures no speed.
PROMPT_SECONDS = 8


def _wait_for(condition, *, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            pytest.fail(f"Timed out after {timeout} s waiting for {what}.\n{tail}")
        time.sleep(0.1)


class PrivateRedis:
    """A redis-server of this test alone, on a spare port, that can be stopped and restarted.

    Nothing is persisted: a restart loses whatever the broker held, as a crash would.
    """

    def __init__(self, workdir: Path) -> None:
        self.port = spare_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _answers(self) -> bool:
        try:
            with redis.Redis(port=self.port, socket_connect_timeout=0.5) as client:
                return client.ping()
        except redis.ConnectionError:
            return False

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_for(lambda: self.process.poll() is not None or self._answers(),
                  timeout=10, what=f"redis-server on port {self.port}")
        assert self.process.poll() is None, f"redis-server on port {self.port} exited"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        assert not self._answers()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@contextlib.contextmanager
def celery_broker(url: str):
    """Point the project's Celery app at `url` for the block, then back.

    The app builds its connection pool and producer pool on first use and keeps them,
    so a new URL reaches publishing only once both are dropped.
    """
    from config.celery import app

    def drop_pools():
        # kombu keeps its pools in process-wide registries keyed by URL; closing one
        # without clearing the registry would hand the closed pool to the next caller.
        kombu.pools.reset()
        app._after_fork()

    previous = app.conf.broker_url
    drop_pools()
    app.conf.broker_url = url
    try:
        yield app
    finally:
        drop_pools()
        app.conf.broker_url = previous


@contextlib.contextmanager
def returns_promptly(what: str):
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    assert elapsed < PROMPT_SECONDS, f"{what} took {elapsed:.1f} s with the broker down"


def _committed(query) -> object:
    """Return query() as another connection sees it: only what was committed."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = query()
        except Exception as error:  # re-raised in the test's thread
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_transitions_commit_with_the_broker_down_and_every_notice_goes_out_once_when_it_returns(
    private_redis,
):
    from celery.contrib.testing.worker import start_worker

    city = make_city()
    unit_upsert(code="centre", name=city.centre.name, kind=city.centre.kind, parent=None,
                liaison_phone="13900000001")
    unit_upsert(code="water-group", name=city.bureau.name, kind=city.bureau.kind,
                parent=city.centre, liaison_phone="13900000002")

    with celery_broker(private_redis.url) as app:
        # Published while the broker is up, lost with it: a restart keeps nothing.
        in_progress = make_ticket(city, State.IN_PROGRESS)
        private_redis.stop()

        with returns_promptly("reporting a ticket"):
            fresh, _code = services.ticket_create(
                category=city.category, description="停水三天", channel="phone",
                reporter_phone="13800138001", actor=city.operator,
            )
        with returns_promptly("reporting a ticket three hours late"):
            overdue, _code = services.ticket_create(
                category=city.category, description="水管爆裂", channel="phone",
                reporter_phone="13800138002", actor=city.operator,
                reported_at=timezone.now() - dt.timedelta(hours=3),
            )
        with returns_promptly("reporting, accepting and dispatching a ticket"):
            dispatched = make_ticket(city, State.DISPATCHED)
        with returns_promptly("pausing a ticket"):
            services.ticket_pause(ticket_id=in_progress.id, actor=city.handler,
                                  reason="请补充停水照片", until=timezone.now() + dt.timedelta(days=3))
        sweep_at = dispatched.claim_due_at + dt.timedelta(seconds=1)
        with returns_promptly("the deadline sweep"):
            assert sla_sweep(now=sweep_at) == 3

        expected_cards = {(overdue.id, "accept", "red"), (fresh.id, "accept", "red"),
                          (dispatched.id, "claim", "red")}
        cards = DeadlineAlert.objects.values_list("ticket_id", "stage", "level")
        assert _committed(lambda: set(cards)) == expected_cards
        assert _committed(lambda: Ticket.objects.get(id=in_progress.id).paused_at) is not None
        assert _committed(lambda: Ticket.objects.get(id=dispatched.id).state) == State.DISPATCHED
        outcomes = Notification.objects.values_list("kind", "status", "attempts")
        notices = _committed(lambda: list(outcomes))
        # Four reports, one pause; the claim card tells the bureau and the centre.
        assert Counter(kind for kind, _status, _attempts in notices) == {
            "acknowledgement": 4, "pause": 1, "escalation": 4,
        }
        assert {(status, attempts) for _kind, status, attempts in notices} == {("pending", 0)}

        private_redis.start()  # same port, empty
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            catch_up_at = timezone.now() + CATCH_UP_GRACE + dt.timedelta(seconds=1)
            assert notification_sweep(now=catch_up_at) == 9
            _wait_for(lambda: not Notification.objects.exclude(status="sent").exists(),
                      timeout=30, what="the worker to send the nine notices")
            assert notification_sweep(now=catch_up_at + dt.timedelta(minutes=1)) == 0
            assert sla_sweep(now=sweep_at + dt.timedelta(minutes=1)) == 0

    assert list(Notification.objects.values_list("status", "attempts").distinct()) == [("sent", 1)]
    assert Notification.objects.count() == 9
    assert DeadlineAlert.objects.count() == 3
    assert set(DeadlineAlert.objects.values_list("ticket_id", "stage", "level")) == expected_cards
    assert TicketEvent.objects.filter(kind="warning_red").count() == 3


def _database_url(application_name: str) -> str:
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    host, name = db["HOST"] or "", quote(db["NAME"], safe="")
    return f"postgres://{user}{password}@{host}{port}/{name}?application_name={application_name}"


def _start_worker_process(*, broker_url: str, queue: str, application_name: str, log: Path):
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(application_name),
        "REDIS_URL": broker_url,
        "SECRET_KEY": "faults-test-key",
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
             "--concurrency=1", "-Q", queue, "-n", f"{queue}@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "--loglevel=INFO"],
            cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
        )


def _backends(application_name: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                       [application_name])
        return [pid for (pid,) in cursor.fetchall()]


def _waiting_on(blocker_pid: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                       [blocker_pid])
        return [pid for (pid,) in cursor.fetchall()]


def test_a_sweep_whose_worker_is_killed_mid_batch_is_finished_by_the_next_one(
    private_redis, tmp_path,
):
    from tickets.tasks import sla_sweep_task

    city = make_city()
    unit_upsert(code="centre", name=city.centre.name, kind=city.centre.kind, parent=None,
                liaison_phone="13900000001")
    late = timezone.now() - dt.timedelta(hours=3)
    count = SWEEP_BATCH + 200
    with transaction.atomic():
        for i in range(count):
            services.ticket_create(category=city.category, description=f"路灯不亮{i}",
                                   channel="staff", reported_at=late - dt.timedelta(seconds=i))
    # The sweep takes tickets in next_check_at order; all distinct, so the batches are known.
    checks = dict(Ticket.objects.values_list("id", "next_check_at"))
    order = sorted(checks, key=checks.get)
    assert len(set(checks.values())) == count
    first_batch, second_batch = set(order[:SWEEP_BATCH]), set(order[SWEEP_BATCH:])
    last = Ticket.objects.get(id=order[-1])

    # Another transaction holds, uncommitted, the very card the sweep will write for
    # the last ticket of its second batch: the sweep's insert waits on the unique index.
    # The foreign key is checked only at commit (deferred), so the ticket row itself
    # stays unlocked and the sweep does not skip it.
    db = connection.settings_dict
    blocker = psycopg.connect(dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None,
                              host=db["HOST"] or None, port=db["PORT"] or None)
    table = DeadlineAlert._meta.db_table
    worker = None
    name = f"faults-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "worker.log"
    try:
        blocker.execute(
            f"INSERT INTO {table} (ticket_id, stage, level, due_at, warn_at, raised_at)"
            " VALUES (%s, 'accept', 'red', %s, %s, now())",
            [last.id, last.accept_due_at, last.accept_warn_at],
        )
        with celery_broker(private_redis.url):
            worker = _start_worker_process(broker_url=private_redis.url, queue=name,
                                           application_name=name, log=log)
            sla_sweep_task.apply_async(queue=name)
            _wait_for(lambda: _waiting_on(blocker.info.backend_pid), timeout=60,
                      what="the worker's second batch to wait on the uncommitted card", log=log)
            assert DeadlineAlert.objects.count() == SWEEP_BATCH  # the first batch committed

            worker.send_signal(signal.SIGKILL)
            assert worker.wait(timeout=10) == -signal.SIGKILL
            blocker.rollback()
            # Its PostgreSQL session outlives the process until the lock is free; it
            # then finds the client gone and rolls the batch back.
            _wait_for(lambda: not _backends(name), timeout=30,
                      what="the killed worker's database session to end", log=log)

            assert set(DeadlineAlert.objects.values_list("ticket_id", flat=True)) == first_batch
            untouched = Ticket.objects.filter(id__in=second_batch)
            assert dict(untouched.values_list("id", "next_check_at")) == {
                id: checks[id] for id in second_batch
            }
            assert set(untouched.values_list("escalation_level", flat=True)) == {0}
            reds = TicketEvent.objects.filter(kind="warning_red")
            assert set(reds.values_list("ticket_id", flat=True)) == first_batch
            assert Notification.objects.count() == SWEEP_BATCH

            assert sla_sweep() == len(second_batch)
            assert sla_sweep() == 0
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
        blocker.close()
        with connection.cursor() as cursor:  # a session left waiting would block the flush
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE application_name = %s", [name])

    cards = DeadlineAlert.objects.values("ticket_id").annotate(n=Count("id"))
    assert {row["ticket_id"] for row in cards} == set(order)
    assert {row["n"] for row in cards} == {1}
    assert set(DeadlineAlert.objects.values_list("stage", "level")) == {("accept", "red")}
    reds = reds.values("ticket_id").annotate(n=Count("id"))
    assert len(reds) == count and {row["n"] for row in reds} == {1}
    assert set(Ticket.objects.values_list("escalation_level", flat=True)) == {1}
    notices = Notification.objects.values("event_id").annotate(n=Count("id"))
    assert len(notices) == count and {row["n"] for row in notices} == {1}
    escalations = Notification.objects.filter(kind="escalation", recipient_unit=city.centre)
    assert escalations.count() == count


def test_a_broker_that_accepts_and_never_answers_does_not_hold_a_transition():
    """A hung Redis (the port open, nothing answering) is met by the socket timeouts."""
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept_and_say_nothing():
        while True:
            try:
                held.append(silent.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept_and_say_nothing, daemon=True).start()
    city = make_city()
    try:
        with celery_broker(f"redis://127.0.0.1:{silent.getsockname()[1]}/0"):
            with returns_promptly("reporting a ticket to a silent broker"):
                ticket, _code = services.ticket_create(
                    category=city.category, description="停水三天", channel="phone",
                    reporter_phone="13800138001", actor=city.operator,
                )
    finally:
        silent.close()
        for conn in held:
            conn.close()

    assert held, "the publish never reached the silent broker"
    notice = _committed(lambda: Notification.objects.get(ticket_id=ticket.id))
    assert (notice.kind, notice.status) == ("acknowledgement", "pending")  # for the catch-up
