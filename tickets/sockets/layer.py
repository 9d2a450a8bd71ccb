"""The Redis channel layer, with connection pools that wait instead of failing.

channels-redis opens a stock pool per event loop, which raises once 100 connections are
out. The sockets of one ASGI process all share its loop, so a shift closing its sockets
together (each leaving its groups) would see `MaxConnectionsError`, and a socket whose
leaving fails never runs its own clean-up. Here the pool holds `pool_size` connections
and a caller waits up to `pool_timeout` seconds for one.
"""

import redis.asyncio
from channels_redis.core import RedisChannelLayer


class ChannelLayer(RedisChannelLayer):
    def __init__(self, *args, pool_size: int = 64, pool_timeout: float = 10, **kwargs):
        super().__init__(*args, **kwargs)
        self.pool_size = pool_size
        self.pool_timeout = pool_timeout

    def create_pool(self, index):
        host = dict(self.hosts[index])
        address = host.pop("address")
        return redis.asyncio.BlockingConnectionPool.from_url(
            address, max_connections=self.pool_size, timeout=self.pool_timeout, **host
        )
