"""Numbered messages, so that a socket knows when it missed one.

The channel layer drops messages when a queue is full or too old (a process that fell
behind, a client that stopped reading) and says so only in a log. So every ticket
message sent to a group carries the group's next number (`seq`), reserved in Redis by
the sender; each socket keeps the next number it expects per group (`Gaps`). A number
that has not arrived `GRACE_SECONDS` after a later one did (messages from two senders may
cross; a sender may take `SEND_TIMEOUT` between reserving and sending), or `LAG_SECONDS`
after the socket's ping found the counter past it (the last messages of a burst lost;
the queue may simply be behind, hence the longer wait), is a gap: the socket is told
`socket.resync` and its client reads its view again. Numbers live a day after their
group's last message; a counter found below what the socket expects (lapsed, or Redis
restarted) makes the socket resync too and follow the new count.

Not seen by this: a broadcast that failed before its numbers were reserved (Redis down:
logged by the sender), and a writer killed between its commit and its broadcast. Clients
read their view again on every reconnect, which covers the first in practice.
"""

import functools
import threading
from dataclasses import dataclass, field

from django.conf import settings

from tickets.sockets import clients

KEY_PREFIX = "minhu:ws:seq:"
KEY_SECONDS = 86400
GRACE_SECONDS = 5.0
LAG_SECONDS = 20.0  # under the 25 s ping period: the next ping judges
# A gap wider than this is not itemised: the socket is simply behind.
MAX_TRACKED = 1000


class _Local:
    """The embedded variant: the counters of the one process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counters: dict[str, int] = {}

    async def reserve(self, counts: dict[str, int]) -> dict[str, int]:
        with self.lock:
            first = {}
            for group, count in counts.items():
                first[group] = self.counters.get(group, 0) + 1
                self.counters[group] = first[group] + count - 1
            return first

    async def current(self, groups: list[str]) -> dict[str, int]:
        with self.lock:
            return {group: self.counters.get(group, 0) for group in groups}


def queue_reserve(pipe, counts: dict[str, int]) -> int:
    """Queue the reservation of `count` numbers in each group on a Redis pipeline of the
    counters' Redis; return how many replies it adds (read them with `reserved`)."""
    for group, count in counts.items():
        pipe.incrby(KEY_PREFIX + group, count)
        pipe.expire(KEY_PREFIX + group, KEY_SECONDS)
    return 2 * len(counts)


def reserved(counts: dict[str, int], replies: list) -> dict[str, int]:
    """Return the first number reserved in each group, from `queue_reserve`'s replies."""
    return {group: last - count + 1
            for (group, count), last in zip(counts.items(), replies[::2], strict=True)}


class _Redis:
    async def reserve(self, counts: dict[str, int]) -> dict[str, int]:
        """Reserve `count` numbers in each group; return the first of each (one round trip)."""
        pipe = clients.async_client().pipeline(transaction=False)
        queue_reserve(pipe, counts)
        return reserved(counts, await pipe.execute())

    async def current(self, groups: list[str]) -> dict[str, int]:
        """The last number reserved in each group (0 when none)."""
        values = await clients.async_client().mget([KEY_PREFIX + group for group in groups])
        return {group: int(value or 0) for group, value in zip(groups, values, strict=True)}


@functools.cache
def store():
    return _Redis() if settings.REDIS_URL else _Local()


@dataclass
class Gaps:
    """What one socket has received of its groups' numbered messages, and what it waits for."""

    grace: float = field(default_factory=lambda: GRACE_SECONDS)
    expected: dict[str, int] = field(default_factory=dict)
    lag: float = field(default_factory=lambda: LAG_SECONDS)
    # (group, number) -> the moment it becomes a gap
    missing: dict[tuple[str, int], float] = field(default_factory=dict)
    # Something makes the view stale at once (a counter that went back).
    stale: bool = False

    def start(self, group: str, current: int) -> None:
        """Follow a group whose counter stood at `current` once the socket had joined it."""
        self.expected[group] = current + 1

    def received(self, group: str, seq: int, now: float) -> None:
        expected = self.expected.get(group)
        if expected is None:
            return
        if seq >= expected:
            self._wait_for(group, expected, seq, now + self.grace)
            self.expected[group] = seq + 1
        elif self.missing.pop((group, seq), None) is None and seq == 1:
            self.expected[group] = 2  # the counter lapsed and started again

    def published(self, group: str, current: int, now: float) -> None:
        """The group's counter stands at `current`: whatever is below and not here is awaited."""
        expected = self.expected.get(group)
        if expected is None:
            return
        if current >= expected:
            self._wait_for(group, expected, current + 1, now + self.lag)
            self.expected[group] = current + 1
        elif current < expected - 1:
            # The counter went back (lapsed, or Redis lost it): numbers mean nothing now.
            self.expected[group] = current + 1
            self.missing = {key: at for key, at in self.missing.items() if key[0] != group}
            self.stale = True

    def _wait_for(self, group: str, first: int, stop: int, deadline: float) -> None:
        if stop - first > MAX_TRACKED:
            self.missing[(group, 0)] = deadline  # too many to list: behind, for sure
            return
        for seq in range(first, stop):
            self.missing[(group, seq)] = deadline

    def overdue(self, now: float) -> bool:
        """Whether a message is missing for good; if so, start afresh (the client resyncs)."""
        if self.stale or any(deadline <= now for deadline in self.missing.values()):
            self.missing.clear()
            self.stale = False
            return True
        return False
