"""A socket that misses a live message while it stays open says so (`socket.resync`)."""

import asyncio
import threading
import time

import pytest
from django.conf import settings

from tests.factories import make_city, make_ticket
from tickets import broadcast, services
from tickets.models import State
from tickets.sockets import sequence
from tickets.sockets.sequence import Gaps

def _run(coroutine):
    """Run a coroutine on a loop of its own thread (this thread may have a loop running)."""
    result = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coroutine)))
    thread.start()
    thread.join()
    return result[0]


# -- the bookkeeping ----------------------------------------------------------------------


def test_messages_in_order_leave_nothing_missing():
    gaps = Gaps(grace=3)
    gaps.start("dispatch", 10)
    for seq in (11, 12, 13):
        gaps.received("dispatch", seq, now=0)
    assert gaps.missing == {} and not gaps.overdue(now=100)


def test_messages_that_cross_within_the_grace_are_no_gap():
    gaps = Gaps(grace=3)
    gaps.start("dispatch", 0)
    gaps.received("dispatch", 2, now=0)  # 1 is still on its way from another sender
    assert not gaps.overdue(now=1)
    gaps.received("dispatch", 1, now=1)
    assert not gaps.overdue(now=10)


def test_a_number_that_never_comes_is_a_gap_once_the_grace_is_over():
    gaps = Gaps(grace=3)
    gaps.start("unit.water", 5)
    gaps.received("unit.water", 8, now=0)
    assert not gaps.overdue(now=2.9)
    assert gaps.overdue(now=3)
    # Told once: the client reads its view again, and numbering goes on from there.
    assert not gaps.overdue(now=4)
    gaps.received("unit.water", 9, now=5)
    assert not gaps.overdue(now=50)


def test_the_counter_past_what_arrived_reveals_a_lost_tail_given_time_to_arrive():
    gaps = Gaps(grace=3, lag=20)
    gaps.start("ticket.7", 0)
    gaps.received("ticket.7", 1, now=0)
    gaps.published("ticket.7", 3, now=10)  # 2 and 3 numbered, maybe still queued
    assert not gaps.overdue(now=29)
    assert gaps.overdue(now=30)


def test_a_queue_behind_by_more_than_the_grace_is_no_gap():
    gaps = Gaps(grace=3, lag=20)
    gaps.start("dispatch", 0)
    gaps.published("dispatch", 50, now=0)  # a ping finds 50 numbered; they trickle in
    for seq in range(1, 51):
        gaps.received("dispatch", seq, now=seq / 5)
    assert not gaps.overdue(now=40)


def test_a_counter_that_went_back_makes_the_view_stale_and_is_followed_from_there():
    gaps = Gaps(grace=3)
    gaps.start("unit.water", 40)
    gaps.published("unit.water", 0, now=0)  # Redis lost the counter
    assert gaps.overdue(now=0)
    gaps.received("unit.water", 1, now=1)
    assert gaps.expected["unit.water"] == 2 and not gaps.overdue(now=10)


def test_a_lapsed_counter_starting_again_is_not_a_gap():
    gaps = Gaps(grace=3)
    gaps.start("ticket.7", 40)
    gaps.received("ticket.7", 1, now=0)
    gaps.received("ticket.7", 2, now=0)
    assert gaps.expected["ticket.7"] == 3 and not gaps.overdue(now=10)


def test_a_gap_too_wide_to_list_is_overdue_at_once_and_groups_not_followed_are_ignored():
    gaps = Gaps(grace=3)
    gaps.start("dispatch", 0)
    gaps.received("user.5", 99, now=0)
    assert gaps.missing == {}
    gaps.received("dispatch", 5000, now=0)
    assert len(gaps.missing) == 1 and not gaps.overdue(now=0) and gaps.overdue(now=3)


def test_numbers_are_reserved_per_group_without_overlap(transactional_db):
    def reserve(counts):
        return asyncio.run(sequence.store().reserve(counts))  # each in a thread of its own

    assert isinstance(sequence.store(), sequence._Redis)
    group = f"test.reserve.{threading.get_ident()}"
    before = _run(sequence.store().current([group]))[group]
    firsts = []
    threads = [threading.Thread(target=lambda: firsts.append(reserve({group: 3})[group])) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(firsts) == [before + 1 + 3 * i for i in range(8)]
    assert _run(sequence.store().current([group]))[group] == before + 24


def test_a_group_nobody_listens_to_still_takes_its_numbers(transactional_db):
    # A socket joining meanwhile must find the counter where the senders left it.
    group = f"test.empty.{threading.get_ident()}"
    before = _run(sequence.store().current([group]))[group]
    message = {"type": "ticket.message", "message": {"type": "ticket.report"}}
    broadcast.send([(group, message), (group, message), (group, {"type": "access.changed"})])
    assert _run(sequence.store().current([group]))[group] == before + 2


# -- on a live socket ------------------------------------------------------------------------


@pytest.fixture
def city(transactional_db, monkeypatch):
    monkeypatch.setattr(sequence, "GRACE_SECONDS", 0.3)
    monkeypatch.setattr(sequence, "LAG_SECONDS", 0.3)
    return make_city()


def _until_resync(socket, *, seconds: float = 5.0) -> list[dict]:
    """Read until `socket.resync`, pinging as a client does (faster); return what came before."""
    seen, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        socket.send({"type": "ping"})
        pinged = time.monotonic()
        while time.monotonic() - pinged < 0.5:
            try:
                message = socket.next(timeout=0.1)
            except TimeoutError:
                continue
            if message["type"] == "socket.resync":
                return seen
            if message["type"] != "pong":
                seen.append(message)
    raise AssertionError(f"no socket.resync; got {[m['type'] for m in seen]}")


@pytest.mark.slow
def test_a_message_lost_between_two_others_makes_the_socket_resync(city, sockets):
    desk = sockets("/ws/dispatch/", user=city.dispatcher)
    desk.ready()
    # A number taken and its message lost: what a full queue does to a broadcast.
    _run(sequence.store().reserve({"dispatch": 1}))
    make_ticket(city, State.REPORTED)
    seen = _until_resync(desk)
    assert [m["type"] for m in seen] == ["ticket.report"]


@pytest.mark.slow
def test_a_busy_socket_notices_a_gap_from_its_messages_alone(city, sockets):
    desk = sockets("/ws/dispatch/", user=city.dispatcher)
    desk.ready()
    _run(sequence.store().reserve({"dispatch": 1}))
    make_ticket(city, State.REPORTED)
    assert desk.next()["type"] == "ticket.report"  # revealed the gap; within the grace
    time.sleep(0.4)
    make_ticket(city, State.REPORTED)  # no ping: the next message finds the grace over
    assert [desk.next()["type"] for _ in range(2)] == ["ticket.report", "socket.resync"]


@pytest.mark.slow
def test_the_lost_last_messages_of_a_burst_are_found_by_the_ping(city, sockets):
    bureau = sockets("/ws/units/water-group/", user=city.handler)
    bureau.ready()
    _run(sequence.store().reserve({"unit.water-group": 2}))
    bureau.send({"type": "ping"})
    assert bureau.next() == {"type": "pong"}
    assert bureau.quiet(0.5)  # awaited until the next ping judges
    _until_resync(bureau)


@pytest.mark.slow
def test_a_socket_that_missed_nothing_is_never_told_to_resync(city, sockets):
    desk = sockets("/ws/dispatch/", user=city.dispatcher)
    desk.ready()
    for _ in range(3):
        make_ticket(city, State.DISPATCHED)
    types = [desk.next()["type"] for _ in range(9)]
    assert types == ["ticket.report", "ticket.accept", "ticket.dispatch"] * 3
    time.sleep(0.4)
    desk.send({"type": "ping"})
    assert desk.next() == {"type": "pong"}
    assert desk.quiet(0.5)


@pytest.mark.slow
def test_a_process_queue_that_overflows_never_loses_a_message_silently(city, sockets, settings):
    # Every broadcast to this server's sockets shares one queue; hold it to one entry.
    settings.CHANNEL_LAYERS = {"default": {**settings.CHANNEL_LAYERS["default"], "CONFIG": {
        **settings.CHANNEL_LAYERS["default"]["CONFIG"], "channel_capacity": {"specific.*": 1},
    }}}
    desk = sockets("/ws/dispatch/", user=city.dispatcher)
    bureau = sockets("/ws/units/water-group/", user=city.handler)
    desk.ready()
    bureau.ready()
    tickets = [make_ticket(city, State.ACCEPTED) for _ in range(3)]
    for _ in range(6):
        assert desk.next()["type"] in ("ticket.report", "ticket.accept")
    # The server falls behind (its loop busy for a second) while three dispatches are sent.
    broadcast._home_loop.call_soon_threadsafe(time.sleep, 1.0)
    for ticket in tickets:
        services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher)
    # One broadcast (of any group) found room in the queue; the others were dropped, and
    # both sockets say so.
    assert len(_until_resync(desk)) <= 1
    assert len(_until_resync(bureau)) <= 1
