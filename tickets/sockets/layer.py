"""The Redis channel layer, with connection pools that wait instead of failing, and a
blocking way in for the synchronous writers.

channels-redis opens a stock pool per event loop, which raises once 100 connections are
out. The sockets of one ASGI process all share its loop, so a shift closing its sockets
together (each leaving its groups) would see `MaxConnectionsError`, and a socket whose
leaving fails never runs its own clean-up. Here the pool holds `pool_size` connections
and a caller waits up to `pool_timeout` seconds for one.

Requests, workers and the admin write events from threads without an event loop. Going
through the asyncio API cost them a hand-over to a loop thread and two Redis round trips
a group (its members, then the messages), even for a group nobody listens to; that was
a sixth of an SMS delivery's CPU. `queue_members` and `queue_group_send` put the same
commands as `group_send` (the same keys, message format, expiry and capacity check) on a
blocking pipeline, so a writer looks up all its groups in one round trip, and sends in
a second only to the groups that have members.
"""

import threading
import time

import redis
import redis.asyncio
from channels_redis.core import RedisChannelLayer
from redis.backoff import NoBackoff
from redis.retry import Retry

# Deliver one message to the queues of a group's members, as group_send does: a queue
# already holding its capacity is skipped and counted. KEYS: the queues; ARGV: one
# message per queue, then one capacity per queue, then the score and the expiry.
_DELIVER = """
local queues = #KEYS
local score, expiry = ARGV[2 * queues + 1], ARGV[2 * queues + 2]
local full = 0
for i = 1, queues do
    if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[queues + i]) then
        full = full + 1
    else
        redis.call('ZADD', KEYS[i], score, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    end
end
return full
"""


class ChannelLayer(RedisChannelLayer):
    def __init__(self, *args, pool_size: int = 64, pool_timeout: float = 10, **kwargs):
        super().__init__(*args, **kwargs)
        self.pool_size = pool_size
        self.pool_timeout = pool_timeout
        self._blocking: redis.Redis | None = None
        self._blocking_lock = threading.Lock()
        self._last_stamp = 0.0

    def create_pool(self, index):
        host = dict(self.hosts[index])
        address = host.pop("address")
        return redis.asyncio.BlockingConnectionPool.from_url(
            address, max_connections=self.pool_size, timeout=self.pool_timeout, **host
        )

    # -- the blocking way in (one Redis only) ---------------------------------------------

    @property
    def address(self) -> str | None:
        """The Redis URL of a layer on one Redis; None when sharded (no blocking sends)."""
        return self.hosts[0].get("address") if self.ring_size == 1 else None

    def blocking_client(self, *, timeout: float) -> redis.Redis:
        """The process's blocking client of the layer's Redis, each dial and answer bounded
        by `timeout`. Thread-safe; after a fork, redis-py's pool opens fresh connections."""
        with self._blocking_lock:
            if self._blocking is None:
                host = dict(self.hosts[0])
                address = host.pop("address")
                host.update(socket_connect_timeout=timeout, socket_timeout=timeout)
                # A connection found closed (Redis restarted) is dialled again once; a
                # timeout is not retried, or a hung Redis would hold the writer longer.
                pool = redis.BlockingConnectionPool.from_url(
                    address, max_connections=self.pool_size, timeout=self.pool_timeout,
                    retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)), **host,
                )
                self._blocking = redis.Redis(connection_pool=pool)
            return self._blocking

    def queue_members(self, pipe, group: str) -> None:
        """Queue what `group_send` asks first: drop lapsed members, read the others (2 replies)."""
        assert self.require_valid_group_name(group), "Group name not valid"
        key = self._group_key(group)
        pipe.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
        pipe.zrange(key, 0, -1)

    def queue_group_send(self, pipe, channels: list[bytes], message: dict) -> int:
        """Queue the delivery of `message` to the members `queue_members` read, as
        `group_send` delivers it; return how many replies it adds (the last: queues full)."""
        names = [channel.decode("utf8") for channel in channels]
        by_connection, serialized, capacity = self._map_channel_keys_to_connection(names, message)
        keys = by_connection[0]
        now = time.time()
        for key in keys:
            pipe.zremrangebyscore(key, min=0, max=int(now) - int(self.expiry))
        # A queue is read lowest score first: messages queued together keep their order.
        stamp = self._last_stamp = max(now, self._last_stamp + 1e-6)
        pipe.eval(_DELIVER, len(keys), *keys, *(serialized[k] for k in keys),
                  *(capacity[k] for k in keys), stamp, self.expiry)
        return len(keys) + 1
