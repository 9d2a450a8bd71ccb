"""Redis clients for the socket side (presence, message numbering), one per event loop.

An asyncio Redis client belongs to the loop that made it. Each has a bounded pool that
waits for a free connection rather than failing: a shift closing 1,210 sockets at once
asks for a connection 1,210 times in the same instant.
"""

import asyncio
import weakref

from django.conf import settings

POOL_SIZE = 32
# How long a caller waits for a free connection, and for Redis to answer.
POOL_WAIT_SECONDS = 10
SOCKET_SECONDS = 2

_by_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, object]" = weakref.WeakKeyDictionary()
_sync = None


def async_client():
    """The asyncio client of the running loop."""
    import redis.asyncio

    loop = asyncio.get_running_loop()
    client = _by_loop.get(loop)
    if client is None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=POOL_SIZE, timeout=POOL_WAIT_SECONDS,
            socket_timeout=SOCKET_SECONDS, socket_connect_timeout=SOCKET_SECONDS,
        )
        client = _by_loop[loop] = redis.asyncio.Redis(connection_pool=pool)
    return client


def sync_client():
    """The blocking client of this process (for pages and views)."""
    global _sync
    import redis

    if _sync is None:
        _sync = redis.from_url(settings.REDIS_URL, socket_timeout=SOCKET_SECONDS, socket_connect_timeout=SOCKET_SECONDS)
    return _sync


async def close() -> None:
    """Close the running loop's client, if it has one (before the loop itself closes)."""
    client = _by_loop.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose(close_connection_pool=True)
