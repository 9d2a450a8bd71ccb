"""Every event reaches the sockets that may see it and no others, from any writer; a
socket that reconnects replays exactly what it missed; a broken layer never costs a change."""

import datetime as dt
import json
import logging
import os
import socket as socketlib
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from tests.factories import make_city, make_ticket
from tickets import broadcast, services
from tickets.models import State, Ticket
from tickets.sockets import consumers

pytestmark = pytest.mark.slow

PUBLIC_FIELDS = {"type", "id", "number", "state", "unit", "at"}


@pytest.fixture
def city(transactional_db):
    return make_city()


def _post(base: str, path: str, user, body: dict) -> dict:
    token, _ = Token.objects.get_or_create(user=user)
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Token {token.key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_a_dispatch_through_the_api_reaches_the_centre_the_unit_and_the_citizen_only(city, sockets, asgi_server):
    ticket, code = services.ticket_create(category=city.category, description="停水三天", channel="web",
                                          reporter_phone="13800138000")
    services.ticket_accept(ticket_id=ticket.id, actor=city.dispatcher)
    desk = sockets("/ws/dispatch/", user=city.dispatcher)
    bureau = sockets("/ws/units/water-group/", user=city.handler)
    other = sockets("/ws/units/power-supply/", user=city.other_handler)
    citizen = sockets(f"/ws/track/{ticket.number}/", headers={"X-Minhu-Access-Code": code})
    for each in (desk, bureau, other, citizen):
        each.ready()

    answer = _post(asgi_server, f"/api/v1/tickets/{ticket.number}/dispatch/", city.dispatcher, {"unit": "water-group"})
    assert answer["state"] == "dispatched"

    for each in (desk, bureau):
        message = each.next()
        assert message == {**message, "type": "ticket.dispatch", "number": ticket.number, "state": "dispatched",
                           "from_state": "accepted", "unit": "water-group"}
    public = citizen.next()
    assert set(public) == PUBLIC_FIELDS
    assert (public["type"], public["state"], public["unit"]) == ("ticket.dispatch", "dispatched", "water-group")
    assert other.quiet()


def test_the_citizen_hears_public_events_only_and_no_staff_detail(city, sockets):
    ticket, code = services.ticket_create(category=city.category, description="停水", channel="web")
    citizen = sockets(f"/ws/track/{ticket.number}/", headers={"X-Minhu-Access-Code": code})
    citizen.ready()
    services.ticket_accept(ticket_id=ticket.id, actor=city.dispatcher)
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher)
    services.ticket_claim(ticket_id=ticket.id, actor=city.handler)
    services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply="已恢复供水，联系电话 13900000000")
    services.ticket_send_back(ticket_id=ticket.id, actor=city.dispatcher, reason="回复不实")
    services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply="已恢复")
    services.ticket_verify(ticket_id=ticket.id, actor=city.dispatcher)
    received = [citizen.next() for _ in range(4)]
    assert [m["type"] for m in received] == ["ticket.accept", "ticket.dispatch", "ticket.claim", "ticket.verify"]
    assert all(set(m) == PUBLIC_FIELDS for m in received)
    assert citizen.quiet()


def test_a_transition_made_in_a_celery_worker_process_reaches_the_right_sockets(city, sockets):
    ticket = make_ticket(city, State.DISPATCHED)
    quiet = make_ticket(city, State.DISPATCHED, unit=city.other_bureau)
    desk = sockets("/ws/dispatch/", user=city.dispatcher)
    bureau = sockets("/ws/units/water-group/", user=city.handler)
    other = sockets("/ws/units/power-supply/", user=city.other_handler)
    for each in (desk, bureau, other):
        each.ready()
    # The claim deadline's yellow mark has passed: the worker's sweep raises the card.
    past = timezone.now() - dt.timedelta(minutes=1)
    Ticket.objects.filter(id=ticket.id).update(claim_warn_at=past, next_check_at=past)
    Ticket.objects.filter(id=quiet.id).update(next_check_at=timezone.now() + dt.timedelta(days=1))

    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
           "REDIS_URL": settings.REDIS_URL, "SECRET_KEY": "test-only-not-secret", "DEBUG": "false"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "solo", "-c", "1", "-Q", "ws-test",
         "-n", f"ws-test-{os.getpid()}@%h", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        from tickets.tasks import sla_sweep_task

        sla_sweep_task.apply_async(queue="ws-test")
        for each in (desk, bureau):
            message = each.next(timeout=60)
            assert (message["type"], message["number"], message["unit"]) == (
                "ticket.warning_yellow", ticket.number, "water-group")
        assert other.quiet()
    finally:
        worker.terminate()
        _out, errors = worker.communicate(timeout=20)
    assert b"Traceback" not in errors, errors.decode()


def test_reconnecting_with_the_last_id_replays_exactly_the_missed_events_then_goes_live(city, sockets):
    ticket = make_ticket(city, State.REPORTED)
    desk = sockets("/ws/dispatch/", user=city.dispatcher)
    desk.ready()
    services.ticket_accept(ticket_id=ticket.id, actor=city.dispatcher)
    seen = desk.next()
    desk.close()

    services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher)
    services.ticket_claim(ticket_id=ticket.id, actor=city.handler)
    other = make_ticket(city, State.REPORTED)
    missed = list(ticket.events.filter(id__gt=seen["id"]).values_list("id", "kind")) + list(
        other.events.values_list("id", "kind"))

    desk = sockets("/ws/dispatch/", user=city.dispatcher, last=seen["id"])
    ready = desk.ready()
    assert [(m["id"], m["type"]) for m in ready["before"]] == [(i, f"ticket.{k}") for i, k in sorted(missed)]
    assert (ready["replayed"], ready["complete"]) == (len(missed), True)
    services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply="已处理")
    assert desk.next()["type"] == "ticket.resolve"
    assert desk.quiet()

    # A unit socket replays its own unit's events only; a tracking socket, public ones only.
    bureau = sockets("/ws/units/water-group/", user=city.handler, last=seen["id"])
    assert [m["type"] for m in bureau.ready()["before"]] == ["ticket.dispatch", "ticket.claim", "ticket.resolve"]
    street = sockets("/ws/units/wuchang-zhongnan/", user=city.street_handler, last=0)
    assert street.ready()["before"] == []


def test_a_long_absence_replays_a_bounded_batch_and_says_so(city, sockets, monkeypatch):
    monkeypatch.setattr(consumers, "REPLAY_LIMIT", 2)
    make_ticket(city, State.IN_PROGRESS)
    ready = sockets("/ws/dispatch/", user=city.dispatcher, last=0).ready()
    assert (ready["replayed"], ready["complete"]) == (2, False)


def test_bad_client_messages_close_only_their_own_socket(city, sockets):
    bystander = sockets("/ws/dispatch/", user=city.dispatcher)
    bystander.ready()

    def fresh():
        opened = sockets("/ws/dispatch/", user=city.dispatcher)
        opened.ready()
        return opened

    pinger = fresh()
    pinger.send({"type": "ping"})
    assert pinger.next() == {"type": "pong"}
    cases = [("{not json", 4400), (b"\x00\x01", 4400), ({"type": "subscribe", "group": "dispatch"}, 4400),
             ([1, 2], 4400), ("x" * 2000, 1009), ("y" * 100_000, 1009)]
    for data, code in cases:
        opened = fresh()
        opened.send(data)
        assert opened.closed_with() == code, data if len(data) < 50 else len(data)
    flooder = fresh()
    for _ in range(30):
        flooder.send({"type": "ping"})
    assert flooder.closed_with() == 4429
    assert sockets("/ws/dispatch/", user=city.dispatcher, last="12ab").closed_with() == 4400
    # The bystander is still served.
    ticket = make_ticket(city, State.REPORTED)
    assert bystander.next()["number"] == ticket.number


class _SilentServer:
    """A TCP port that accepts connections and never answers, like a hung Redis."""

    def __enter__(self):
        self.server = socketlib.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(100)
        return f"redis://127.0.0.1:{self.server.getsockname()[1]}/0"

    def __exit__(self, *exc):
        self.server.close()


@pytest.mark.parametrize("layer", ["refused", "hung"])
def test_a_broken_channel_layer_never_costs_nor_holds_a_transition(city, settings, layer, caplog):
    ticket = make_ticket(city, State.ACCEPTED)
    with _SilentServer() as hung:
        address = hung if layer == "hung" else "redis://127.0.0.1:1/0"
        settings.CHANNEL_LAYERS = {"default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": address, "socket_connect_timeout": 10, "socket_timeout": 10}]},
        }}
        started = time.monotonic()
        services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher)
        took = time.monotonic() - started
    ticket.refresh_from_db()
    assert ticket.state == State.DISPATCHED
    assert took < 5, took
    assert "Live update not sent" in caplog.text


@pytest.mark.parametrize("redis_at", ["refused", "hung"])
def test_a_broken_redis_never_holds_a_writer_sending_directly(settings, redis_at, caplog):
    # Requests and workers send through a blocking client of the layer's Redis, which
    # keeps the message numbers too. (A test Celery worker may have left the root at ERROR.)
    caplog.set_level(logging.WARNING, logger="tickets.broadcast")
    with _SilentServer() as hung:
        address = hung if redis_at == "hung" else "redis://127.0.0.1:1/0"
        settings.REDIS_URL = address
        settings.CHANNEL_LAYERS = {"default": {
            "BACKEND": "tickets.sockets.layer.ChannelLayer",
            "CONFIG": {"hosts": [{"address": address, "socket_connect_timeout": 10, "socket_timeout": 10}]},
        }}
        started = time.monotonic()
        broadcast.send([("dispatch", {"type": "ticket.message", "message": {"type": "ticket.report"}})])
        took = time.monotonic() - started
    # Each dial and answer waits a second at most; the bound here only says "never hangs"
    # (the layer's own timeouts above are 10 s), with room for a busy machine.
    assert took < 5, took
    assert "Live update not sent" in caplog.text


def test_the_embedded_in_memory_layer_carries_events_written_by_other_threads(city, sockets, settings):
    # The embedded demo: one process, no Redis; its jobs thread and request threads write events.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    desk = sockets("/ws/dispatch/", user=city.dispatcher)
    bureau = sockets("/ws/units/water-group/", user=city.handler)
    desk.ready()
    bureau.ready()
    ticket = make_ticket(city, State.DISPATCHED)  # written from this test's thread
    assert [desk.next()["type"] for _ in range(3)] == ["ticket.report", "ticket.accept", "ticket.dispatch"]
    assert bureau.next()["number"] == ticket.number
