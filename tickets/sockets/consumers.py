"""The three sockets of design §4: the dispatch centre, a unit, a citizen's ticket.

Every socket is checked on connect against the same scope rules as the API (role and
unit), accepted, and then either closed with a code that says why or given its groups.
A client that reconnects with `?last=<event id>` first receives what it missed from the
event log, in order, then live messages (never one twice). A socket that misses a live
message while open (a queue overflowed) says `socket.resync` (see sequence.py). The only
messages a client may send are pings; anything else, too big or too frequent, closes
the socket.

Close codes (4000-4999 are the application's own):
  4400 malformed query or message     4401 no or bad credentials
  4403 not allowed here (also when a membership is removed while connected)
  4404 no such unit                   4429 too many messages
  1009 message too big (the protocol's own code)
"""

import asyncio
import json
import logging
import time
from urllib.parse import parse_qs

from channels.db import aclose_old_connections, database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.cache import cache

from departments.models import Unit
from departments.selectors import WATCH_SUBTREE, staff_scope, unit_watch
from tickets import broadcast
from tickets.models import TicketEvent
from tickets.sockets import presence, sequence

logger = logging.getLogger(__name__)

BAD_MESSAGE, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, TOO_MANY, TOO_BIG = 4400, 4401, 4403, 4404, 4429, 1009
# A client sends a ping every 25 s; these leave room for reconnect storms and nothing more.
MAX_MESSAGE_CHARS = 1024
MESSAGES_PER_WINDOW, WINDOW_SECONDS = 20, 10.0
# At most this many missed events are replayed; beyond, the client is told to reload its view.
REPLAY_LIMIT = 500
# A socket renews its group memberships this often (on a ping), so that it outlives the
# groups' expiry and finds its groups again after Redis lost them.
REJOIN_SECONDS = 600
# Access codes tried over sockets: per client address and per ticket number, per hour.
CODE_TRIES_PER_HOUR = 20


class Refused(Exception):
    def __init__(self, code: int):
        self.code = code


class TicketSocket(AsyncJsonWebsocketConsumer):
    """What the three sockets share: refusals with a reason, replay, the ping-only protocol."""

    audience = "staff"

    async def connect(self):
        broadcast.remember_home_loop(asyncio.get_running_loop())
        self.window = (time.monotonic(), 0)
        self.replayed: set[int] = set()
        self.gaps = sequence.Gaps()
        # Accept first: only an open socket can be closed with a code that says why.
        await self.accept()
        try:
            last = self._last_seen()
            self.groups = await self.authorise()
        except Refused as refusal:
            await self.close(code=refusal.code)
            return
        self.event_groups = list(self.groups)
        self.joined_at = time.monotonic()
        user = self.scope["user"]
        if user.is_authenticated:
            self.groups.append(broadcast.user_group(user.id))
        for group in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self._read_counters(time.monotonic(), late=False)
        # Joined before reading the log: whatever commits meanwhile arrives either way,
        # and an event both replayed and received live is sent once.
        replay, complete = ([], True) if last is None else await self._replay(last)
        for message in replay:
            self.replayed.add(message["id"])
            await self.send_json(message)
        await self.send_json({"type": "socket.ready", "replayed": len(replay), "complete": complete})
        await self.joined()

    def _last_seen(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        values = query.get("last")
        if not values:
            return None
        if len(values) != 1 or not values[0].isdigit() or len(values[0]) > 18:
            raise Refused(BAD_MESSAGE)
        return int(values[0])

    @database_sync_to_async
    def _replay(self, last: int) -> tuple[list[dict], bool]:
        events = self.events().filter(id__gt=last)
        messages = broadcast.replay_messages(events, audience=self.audience, limit=REPLAY_LIMIT + 1)
        return messages[:REPLAY_LIMIT], len(messages) <= REPLAY_LIMIT

    async def _read_counters(self, now: float, *, late: bool) -> None:
        """Read where each group's numbering stands: followed from there if new (`late`: the
        reading failed at connect, so what came before is unknown), else checked against."""
        try:
            counts = await sequence.store().current(self.event_groups)
        except Exception:  # noqa: BLE001 - without numbers the socket works; tried at the next ping
            logger.warning("Message numbers not read for %s", self.event_groups, exc_info=True)
            return
        for group, current in counts.items():
            if group in self.gaps.expected:
                self.gaps.published(group, current, now)
            else:
                self.gaps.start(group, current)
                self.gaps.stale |= late

    async def _check_gaps(self, *, counters: bool = False) -> None:
        now = time.monotonic()
        if counters:
            await self._read_counters(now, late=True)
        if self.gaps.overdue(now):
            await self.send_json({"type": "socket.resync"})
            await self._rejoin()
        elif counters and now - self.joined_at > REJOIN_SECONDS:
            await self._rejoin()

    async def _rejoin(self) -> None:
        """Join the groups again: memberships expire, and Redis may have lost them."""
        self.joined_at = time.monotonic()
        try:
            for group in self.groups:
                await self.channel_layer.group_add(group, self.channel_name)
        except Exception:  # noqa: BLE001
            logger.warning("Socket could not rejoin its groups", exc_info=True)

    async def websocket_disconnect(self, message):
        # The socket's own clean-up first, then each group left on its own: one that
        # cannot be left (Redis busy or down) lapses with the group's expiry instead of
        # keeping the socket counted online or in the other groups.
        try:
            await self.left()
        except Exception:  # noqa: BLE001
            logger.warning("Socket clean-up failed", exc_info=True)
        for group in self.groups:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # noqa: BLE001
                logger.warning("Socket could not leave %s", group, exc_info=True)
        await aclose_old_connections()
        raise StopConsumer()

    # -- what each socket decides --------------------------------------------------------

    async def authorise(self) -> list[str]:
        """Return the groups this socket may hear, or raise Refused."""
        raise NotImplementedError

    def events(self):
        """The events this socket may replay (the same audience as its groups)."""
        raise NotImplementedError

    async def joined(self):
        pass

    async def left(self):
        pass

    async def pinged(self):
        pass

    # -- from the client -----------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if not self._within_rate():
            await self.close(code=TOO_MANY)
            return
        if bytes_data is not None or text_data is None:
            await self.close(code=BAD_MESSAGE)
            return
        if len(text_data) > MAX_MESSAGE_CHARS:
            await self.close(code=TOO_BIG)
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self.close(code=BAD_MESSAGE)
            return
        if not isinstance(message, dict) or message.get("type") != "ping":
            await self.close(code=BAD_MESSAGE)
            return
        await self.send_json({"type": "pong"})
        await self.pinged()
        await self._check_gaps(counters=True)

    def _within_rate(self) -> bool:
        started, count = self.window
        now = time.monotonic()
        if now - started > WINDOW_SECONDS:
            started, count = now, 0
        self.window = (started, count + 1)
        return count + 1 <= MESSAGES_PER_WINDOW

    # -- from the channel layer ----------------------------------------------------------

    async def ticket_message(self, event):
        if "seq" in event:
            self.gaps.received(event["group"], event["seq"], time.monotonic())
        message = event["message"]
        if message["id"] not in self.replayed:
            await self.send_json(message)
        await self._check_gaps()

    async def access_changed(self, event):
        self.scope["user"] = await _reload_user(self.scope["user"])
        try:
            await self.authorise()
        except Refused:
            await self.close(code=FORBIDDEN)


@database_sync_to_async
def _reload_user(user):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import AnonymousUser

    fresh = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
    return fresh or AnonymousUser()


def _require_staff(user) -> None:
    if not user.is_authenticated:
        raise Refused(UNAUTHENTICATED)


class DispatchSocket(TicketSocket):
    """`/ws/dispatch/`: the dispatch centre hears every event and who is on duty."""

    async def authorise(self) -> list[str]:
        user = self.scope["user"]
        _require_staff(user)
        if not await database_sync_to_async(lambda: staff_scope(user).sees_all)():
            raise Refused(FORBIDDEN)
        return [broadcast.DISPATCH_GROUP]

    def events(self):
        return TicketEvent.objects.all()

    async def presence_changed(self, event):
        await self.send_json({"type": "presence", "unit": event["unit"], "online": event["online"]})


class UnitSocket(TicketSocket):
    """`/ws/units/{code}/`: a unit's members hear its events; supervisors and the centre, its subtree."""

    async def authorise(self) -> list[str]:
        user = self.scope["user"]
        _require_staff(user)
        self.unit, self.subtree, self.member = await self._access(user, self.scope["url_route"]["kwargs"]["code"])
        if self.subtree:
            return [broadcast.subtree_group(self.unit.code)]
        return [broadcast.unit_group(self.unit.code)]

    @database_sync_to_async
    def _access(self, user, code: str) -> tuple[Unit, bool, bool]:
        unit = Unit.objects.filter(code=code, is_active=True).first()
        if unit is None:
            raise Refused(NOT_FOUND)
        watch = unit_watch(user, unit)
        if watch is None:
            raise Refused(FORBIDDEN)
        # Members on duty count as the unit being online, whoever else watches it.
        member = unit.id in staff_scope(user).handled_unit_ids
        return unit, watch == WATCH_SUBTREE, member

    def events(self):
        if self.subtree:
            return TicketEvent.objects.filter(unit__path__startswith=self.unit.path)
        return TicketEvent.objects.filter(unit_id=self.unit.id)

    # The centre is told when a unit comes online (its first socket) or goes offline (its
    # last): a shift of 1,210 people logging in makes at most 121 messages, not 1,210.
    async def joined(self):
        if self.member:
            await self._presence(presence.store().mark, announce_when=1)

    async def pinged(self):
        if self.member:
            await self._presence(presence.store().mark, announce_when=None)

    async def left(self):
        if getattr(self, "member", False):
            await self._presence(presence.store().leave, announce_when=0)

    async def _presence(self, change, *, announce_when: int | None):
        try:
            online = await change(self.unit.code, self.channel_name)
            if online == announce_when:
                await self.channel_layer.group_send(
                    broadcast.DISPATCH_GROUP, {"type": "presence.changed", "unit": self.unit.code, "online": online}
                )
        except Exception:  # noqa: BLE001 - presence is a courtesy; the socket works without it
            logger.warning("Presence not updated for %s", self.unit.code, exc_info=True)


class TrackSocket(TicketSocket):
    """`/ws/track/{number}/`: the citizen's own ticket, public events and fields only.

    A browser proves the access code through its session (given on the tracking page
    within the last half hour); a program sends `X-Minhu-Access-Code`. An unknown number
    and a wrong code are refused alike, so the socket never tells which numbers exist.
    """

    audience = "public"

    async def authorise(self) -> list[str]:
        number = self.scope["url_route"]["kwargs"]["number"]
        code = _header(self.scope, b"x-minhu-access-code")
        self.ticket_id = await self._access(number, code)
        return [broadcast.ticket_group(self.ticket_id)]

    @database_sync_to_async
    def _access(self, number: str, code: str | None) -> int:
        from tickets.citizen.views import may_track
        from tickets.selectors import ticket_for_citizen

        if code is None:
            if not (self.scope["same_origin"] and may_track(self.scope["session"], number)):
                raise Refused(UNAUTHENTICATED)
            ticket = ticket_for_citizen(number=number)
            if ticket is None:
                raise Refused(FORBIDDEN)
            return ticket.id
        if _code_tries_exceeded(self.scope, number):
            raise Refused(TOO_MANY)
        ticket = ticket_for_citizen(number=number)
        if ticket is None or not ticket.check_access_code(code):
            raise Refused(FORBIDDEN)
        return ticket.id

    def events(self):
        return TicketEvent.objects.filter(ticket_id=self.ticket_id, is_public=True)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _code_tries_exceeded(scope, number: str) -> bool:
    """Count one try against the client address and the number; say whether either is over."""
    client = (scope.get("client") or ("?", 0))[0]
    meta_key = getattr(settings, "RATELIMIT_IP_META_KEY", None)  # set behind a proxy
    if meta_key:
        client = _header(scope, meta_key.removeprefix("HTTP_").replace("_", "-").lower().encode()) or client
    over = False
    for key in (f"ws-code-client:{client}", f"ws-code-number:{number[:40]}"):
        cache.add(key, 0, timeout=3600)
        try:
            over |= cache.incr(key) > CODE_TRIES_PER_HOUR
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=3600)
    return over


class UnknownSocket(AsyncJsonWebsocketConsumer):
    """Any other socket path: accepted only to be closed with 4404."""

    async def connect(self):
        await self.accept()
        await self.close(code=NOT_FOUND)
