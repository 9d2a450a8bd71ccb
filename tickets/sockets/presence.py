"""Which units have someone on duty online: counted from their members' open unit sockets.

Each socket is an entry with an expiry, renewed by the client's ping (every 25 s); an
ASGI process that dies leaves entries that lapse by themselves. With Redis it is one
sorted set shared by every process; embedded, a dictionary of the one process.
"""

import functools
import threading
import time

from django.conf import settings

from tickets.sockets import clients

KEY = "minhu:presence"
# A socket is counted this long after its last sign of life.
TTL_SECONDS = 75


def _member(unit_code: str, channel_name: str) -> str:
    return f"{unit_code}|{channel_name}"


def _count(members) -> dict[str, int]:
    online: dict[str, int] = {}
    for member in members:
        code = (member.decode() if isinstance(member, bytes) else member).split("|", 1)[0]
        online[code] = online.get(code, 0) + 1
    return online


class _Local:
    def __init__(self):
        self.lock = threading.Lock()
        self.entries: dict[str, float] = {}

    async def mark(self, unit_code: str, channel_name: str) -> int:
        with self.lock:
            self.entries[_member(unit_code, channel_name)] = time.time() + TTL_SECONDS
        return self.online().get(unit_code, 0)

    async def leave(self, unit_code: str, channel_name: str) -> int:
        with self.lock:
            self.entries.pop(_member(unit_code, channel_name), None)
        return self.online().get(unit_code, 0)

    def online(self) -> dict[str, int]:
        now = time.time()
        with self.lock:
            for member in [m for m, until in self.entries.items() if until <= now]:
                del self.entries[member]
            return _count(self.entries)


class _Redis:
    async def _change_and_count(self, unit_code: str, change) -> int:
        # The change and the count are one transaction: two members joining at once see
        # 1 and 2, so exactly one of them announces the unit coming online.
        pipe = clients.async_client().pipeline(transaction=True)
        change(pipe)
        pipe.zrangebyscore(KEY, time.time(), "+inf")
        return _count((await pipe.execute())[-1]).get(unit_code, 0)

    async def mark(self, unit_code: str, channel_name: str) -> int:
        member = _member(unit_code, channel_name)
        return await self._change_and_count(
            unit_code, lambda pipe: pipe.zadd(KEY, {member: time.time() + TTL_SECONDS})
        )

    async def leave(self, unit_code: str, channel_name: str) -> int:
        member = _member(unit_code, channel_name)
        return await self._change_and_count(unit_code, lambda pipe: pipe.zrem(KEY, member))

    def online(self) -> dict[str, int]:
        now = time.time()
        pipe = clients.sync_client().pipeline()
        pipe.zremrangebyscore(KEY, "-inf", now)
        pipe.zrangebyscore(KEY, now, "+inf")
        return _count(pipe.execute()[1])


@functools.cache
def store():
    return _Redis() if settings.REDIS_URL else _Local()


def online_units() -> dict[str, int]:
    """Return {unit code: sockets of its members open now}; empty when presence cannot be read."""
    try:
        return store().online()
    except Exception:  # noqa: BLE001 - the desk still works without it
        import logging

        logging.getLogger(__name__).warning("Presence could not be read", exc_info=True)
        return {}
