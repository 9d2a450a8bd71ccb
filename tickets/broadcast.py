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
import functools
import logging
import threading
import time
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import QuerySet

from departments.models import Unit
from tickets.models import TicketEvent

logger = logging.getLogger(__name__)

DISPATCH_GROUP = "dispatch"
# A broadcast gives up after this long (a Redis that hangs must not hold a request).
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
    if event.is_public:
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


def send(messages: list[tuple[str, dict]]) -> None:
    """Send (group, channel-layer message) pairs: in order within a group, groups side by side,
    bounded in time."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        _run(_send_all, layer, messages)
    except Exception as error:  # the change is committed; sockets catch up by replay
        logger.warning("Live update not sent (%s): %s message(s) dropped", error, len(messages))


async def _send_all(layer, messages: list[tuple[str, dict]]) -> None:
    by_group: dict[str, list[dict]] = {}
    for group, message in messages:
        by_group.setdefault(group, []).append(message)

    async def in_order(group: str, items: list[dict]) -> None:
        for item in items:
            await layer.group_send(group, item)

    await asyncio.wait_for(
        asyncio.gather(*(in_order(group, items) for group, items in by_group.items())),
        timeout=SEND_TIMEOUT,
    )


def _run(function, *args) -> None:
    home = _home_loop
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if home is not None and home.is_running() and running is not home and _in_memory():
        asyncio.run_coroutine_threadsafe(function(*args), home).result(SEND_TIMEOUT + 1)
    elif running is not None:
        # A thread with its own loop (a test driving a browser): send from a helper thread.
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(function(*args))
            except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(error)

        thread = threading.Thread(target=run, name="minhu-broadcast")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
    else:
        async_to_sync(function)(*args)


def _in_memory() -> bool:
    from channels.layers import InMemoryChannelLayer

    return isinstance(get_channel_layer(), InMemoryChannelLayer)


# -- replay -----------------------------------------------------------------------------


def replay_messages(events: QuerySet[TicketEvent], *, audience: str, limit: int) -> list[dict]:
    """Return the messages of the first `limit` events (already filtered to one socket's scope), in order."""
    build = {"staff": staff_message, "public": public_message}[audience]
    rows = events.select_related("ticket", "unit").only(
        "id", "kind", "from_state", "to_state", "at", "is_public", "ticket__number", "unit__code",
    ).order_by("id")[:limit]
    return [build(e, number=e.ticket.number, unit_code=e.unit.code if e.unit_id else None) for e in rows]
