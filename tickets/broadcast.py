"""Every ticket event, told live to the sockets that may see it, after the commit.

One helper for every writer (web request, admin, Celery worker, the embedded jobs
thread): `announce(events)` registers the broadcast with the transaction that wrote the
events, so a rolled-back change is never told and a told change is in the database.
Sending is bounded in time and its failures are logged: a broadcast never undoes nor
holds up a transition. A socket that missed something replays it from the event log
(`replay`), so the event log, not the channel layer, is the source of truth.

Who hears what (`groups_for`):
- the dispatch centre, every event;
- a unit's members, the events of their unit (`TicketEvent.unit`, stored with the event,
  so live and replayed messages agree); supervisors, those of every unit in their subtree;
- the citizen's tracking page, the public events of their ticket, with public fields only;
- `user.<id>`, not events but "your access changed": the sockets re-check their scope.
"""

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from departments.models import Unit
from tickets.models import TicketEvent
from tickets.sockets import sequence
from tickets.sockets.layer import ChannelLayer

logger = logging.getLogger(__name__)

DISPATCH_GROUP = "dispatch"
# A broadcast gives up after about this long (a Redis that hangs must not hold a request).
SEND_TIMEOUT = 2.0


def unit_group(code: str) -> str:
    return f"unit.{code}"


def subtree_group(code: str) -> str:
    return f"tree.{code}"


def ticket_group(ticket_id: int) -> str:
    return f"ticket.{ticket_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


# -- the messages -----------------------------------------------------------------------


# unit id -> (path, when read). Units are few and their paths change only when the tree
# is reorganised; a path is read again after a minute, so every process follows a move.
_paths: dict[int, tuple[str, float]] = {}
PATH_SECONDS = 60.0


def _unit_path(unit_id: int) -> str:
    now = time.monotonic()
    known = _paths.get(unit_id)
    if known is None or now - known[1] > PATH_SECONDS:
        path = Unit.objects.filter(id=unit_id).values_list("path", flat=True).first() or ""
        known = _paths[unit_id] = (path, now)
    return known[0]


def forget_units() -> None:
    """Drop the remembered unit paths (after a unit is renamed or moved)."""
    _paths.clear()


def unit_codes(path: str) -> list[str]:
    """Return the codes on a unit path, root first ("/centre/a/b/" -> centre, a, b)."""
    return [code for code in path.split("/") if code]


def staff_message(event: TicketEvent, *, number: str, unit_code: str | None) -> dict:
    """The message staff sockets get: what happened, to which ticket, in which state, where."""
    return {
        "type": f"ticket.{event.kind}",
        "id": event.id,
        "number": number,
        "state": event.to_state,
        "from_state": event.from_state,
        "unit": unit_code,
        "at": event.at.isoformat(),
    }


# What a citizen may read of an event: never who, never a note, never a phone.
PUBLIC_FIELDS = ("type", "id", "number", "state", "unit", "at")


def public_message(event: TicketEvent, *, number: str, unit_code: str | None) -> dict:
    """The message a citizen's tracking page gets: the public fields of the staff message."""
    message = staff_message(event, number=number, unit_code=unit_code)
    return {field: message[field] for field in PUBLIC_FIELDS}


def groups_for(event: TicketEvent, unit_path: str) -> list[tuple[str, str]]:
    """Return (group, audience) pairs for one event; audience is "staff" or "public"."""
    groups = [(DISPATCH_GROUP, "staff")]
    codes = unit_codes(unit_path)
    if codes:
        groups.append((unit_group(codes[-1]), "staff"))
        groups += [(subtree_group(code), "staff") for code in codes]
    # A citizen's socket needs the number and code the report's answer gives: none can hear
    # the report itself.
    if event.is_public and event.kind != "report":
        groups.append((ticket_group(event.ticket_id), "public"))
    return groups


def addressed(event: TicketEvent, number: str) -> list[tuple[str, dict]]:
    """Return every (group, message) one event makes."""
    path = _unit_path(event.unit_id) if event.unit_id else ""
    code = unit_codes(path)[-1] if path else None
    build = {"staff": staff_message, "public": public_message}
    return [(group, build[audience](event, number=number, unit_code=code))
            for group, audience in groups_for(event, path)]


# -- sending ----------------------------------------------------------------------------


def announce(events: Iterable[TicketEvent]) -> None:
    """Broadcast the events after the current transaction commits (at once outside one).

    Building the messages reads only what the writer already holds (and a cached unit
    path); any failure is logged and swallowed, because the transition must stand.
    """
    try:
        messages = [
            (group, {"type": "ticket.message", "message": message})
            for event in events for group, message in addressed(event, event.ticket.number)
        ]
    except Exception:
        logger.exception("Could not build the live messages of a ticket event")
        return
    if messages:
        transaction.on_commit(functools.partial(send, messages), robust=True)


def announce_access_change(user_id: int) -> None:
    """Tell the user's open sockets to re-check what they may see (after the commit)."""
    transaction.on_commit(
        functools.partial(send, [(user_group(user_id), {"type": "access.changed"})]), robust=True
    )


# The loop the in-memory layer's consumers wait on (embedded mode): sends from other
# threads are handed to it, since that layer's queues are not thread-safe.
_home_loop: asyncio.AbstractEventLoop | None = None


def remember_home_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _home_loop
    _home_loop = loop


class _Sender:
    """An event loop of this process, in a thread of its own, that synchronous writers
    send through when they cannot send directly (`_blocking`: another channel layer, or
    a sharded one): its Redis connections stay open from one broadcast to the next, where
    a loop per broadcast would dial Redis every time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.pid = 0

    def run(self, coroutine, timeout: float):
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop())
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def _loop(self) -> asyncio.AbstractEventLoop:
        with self.lock:
            # After a fork (a Celery or web server worker) the thread did not come along.
            if self.loop is None or self.pid != os.getpid() or not self.thread.is_alive():
                self.loop = asyncio.new_event_loop()
                self.thread = threading.Thread(target=_serve, args=(self.loop,), name="minhu-broadcast", daemon=True)
                self.thread.start()
                self.pid = os.getpid()
            return self.loop

    def stop(self) -> None:
        """Stop the loop and close its connections (tests, between channel layers)."""
        with self.lock:
            loop, thread, self.loop = self.loop, self.thread, None
        if loop is not None and self.pid == os.getpid() and thread.is_alive():
            from tickets.sockets import clients

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(clients.close(), loop).result(2)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()  # channels-redis closes the loop's connection pools as it closes


_sender = _Sender()
stop_sending = _sender.stop
# A forked child (a Celery or web server worker) starts with a sender of its own: the
# parent's loop, thread and lock did not come along in a usable state.
os.register_at_fork(after_in_child=_sender.__init__)
# Sends handed to the embedded server's loop from that loop itself, kept until done.
_pending: set[asyncio.Task] = set()


def _sent(task: asyncio.Task) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("Live update not sent (%s)", task.exception())


def send(messages: list[tuple[str, dict]]) -> None:
    """Send (group, channel-layer message) pairs: in order within a group, numbered per group,
    bounded in time."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        home = _home_loop
        if _in_memory(layer) and home is not None and home.is_running():
            # Embedded: the in-memory layer's queues live on the server's loop.
            if _running_loop() is home:
                task = home.create_task(_send_all(layer, messages))
                _pending.add(task)
                task.add_done_callback(_sent)
            else:
                asyncio.run_coroutine_threadsafe(_send_all(layer, messages), home).result(SEND_TIMEOUT + 1)
        elif _blocking(layer) and _running_loop() is None:
            _send_now(layer, messages)
        else:
            _sender.run(_send_all(layer, messages), SEND_TIMEOUT + 1)
    except Exception as error:  # the change is committed; sockets catch up by replay
        logger.warning("Live update not sent (%s): %s message(s) dropped", error, len(messages))


def _by_group(messages: list[tuple[str, dict]]) -> tuple[dict[str, list[dict]], dict[str, int]]:
    """Return each group's messages in order, and how many numbers each group needs."""
    by_group: dict[str, list[dict]] = {}
    for group, message in messages:
        by_group.setdefault(group, []).append(message)
    # Ticket messages are numbered per group (tickets.sockets.sequence); others are not.
    numbered = {group: count for group, items in by_group.items()
                if (count := sum(item["type"] == "ticket.message" for item in items))}
    return by_group, numbered


def _numbered(group: str, items: list[dict], seq: int | None) -> Iterator[dict]:
    for item in items:
        if seq is not None and item["type"] == "ticket.message":
            item, seq = {**item, "group": group, "seq": seq}, seq + 1
        yield item


def _blocking(layer) -> bool:
    """Whether a writer without an event loop can send through Redis directly: the layer
    on one Redis, the one that keeps the message numbers."""
    return isinstance(layer, ChannelLayer) and bool(settings.REDIS_URL) and layer.address == settings.REDIS_URL


def _send_now(layer: ChannelLayer, messages: list[tuple[str, dict]]) -> None:
    """Send from this thread: the numbers and every group's members in one round trip,
    then the messages to the groups that have members (none: no second round trip).

    Each dial and each answer is bounded by half of SEND_TIMEOUT, and not retried."""
    by_group, numbered = _by_group(messages)
    pipe = layer.blocking_client(timeout=SEND_TIMEOUT / 2).pipeline(transaction=False)
    numbers = sequence.queue_reserve(pipe, numbered)
    for group in by_group:
        layer.queue_members(pipe, group)
    replies = pipe.execute()
    firsts = sequence.reserved(numbered, replies[:numbers])
    sends = []
    for (group, items), members in zip(by_group.items(), replies[numbers + 1::2], strict=True):
        if members:
            sends += [(group, len(members), layer.queue_group_send(pipe, members, item))
                      for item in _numbered(group, items, firsts.get(group))]
    if not sends:
        return
    replies, at = pipe.execute(), 0
    for group, members, count in sends:
        at += count
        if replies[at - 1]:
            logger.info("%s of %s channels over capacity in group %s", replies[at - 1], members, group)


async def _send_all(layer, messages: list[tuple[str, dict]]) -> None:
    by_group, numbered = _by_group(messages)

    async def in_order(group: str, items: list[dict], seq: int | None) -> None:
        for item in _numbered(group, items, seq):
            await layer.group_send(group, item)

    async def numbered_and_sent() -> None:
        firsts = await sequence.store().reserve(numbered) if numbered else {}
        await asyncio.gather(*(in_order(group, items, firsts.get(group)) for group, items in by_group.items()))

    await asyncio.wait_for(numbered_and_sent(), timeout=SEND_TIMEOUT)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _in_memory(layer) -> bool:
    from channels.layers import InMemoryChannelLayer

    return isinstance(layer, InMemoryChannelLayer)


# -- replay -----------------------------------------------------------------------------


def replay_messages(events: QuerySet[TicketEvent], *, audience: str, limit: int) -> list[dict]:
    """Return the messages of the first `limit` events (already filtered to one socket's scope), in order."""
    build = {"staff": staff_message, "public": public_message}[audience]
    rows = events.select_related("ticket", "unit").only(
        "id", "kind", "from_state", "to_state", "at", "is_public", "ticket__number", "unit__code",
    ).order_by("id")[:limit]
    return [build(e, number=e.ticket.number, unit_code=e.unit.code if e.unit_id else None) for e in rows]
