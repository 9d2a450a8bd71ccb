"""Which units have someone on duty online, from their members' unit sockets."""

import time

import pytest

from tests.factories import make_city
from tickets.sockets import presence

pytestmark = pytest.mark.slow


@pytest.fixture
def city(transactional_db):
    presence.store().online()  # drop what earlier tests left to lapse
    return make_city()


def _until(condition, seconds: float = 5.0) -> None:
    """Wait for the server to handle a socket's closing (it does so on its own loop)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.02)


def test_members_on_unit_sockets_count_as_online_and_the_desk_is_told_when_a_unit_comes_and_goes(city, sockets):
    desk = sockets("/ws/dispatch/", user=city.dispatcher)
    desk.ready()
    first = sockets("/ws/units/water-group/", user=city.handler)
    first.ready()
    assert desk.next(presence=True) == {"type": "presence", "unit": "water-group", "online": 1}
    second = sockets("/ws/units/water-group/", user=city.unit_admin, via="session")
    second.ready()
    # Watching a unit from above is not being on duty there.
    sockets("/ws/units/wuchang-zhongnan/", user=city.supervisor).ready()
    sockets("/ws/units/power-supply/", user=city.dispatcher).ready()
    assert presence.online_units() == {"water-group": 2}

    first.close()
    _until(lambda: presence.online_units() == {"water-group": 1})
    second.send({"type": "ping"})
    assert second.next() == {"type": "pong"}
    second.close()
    # The second socket and the first one's leaving changed nothing the desk shows: only
    # the unit going offline is told.
    assert desk.next(presence=True) == {"type": "presence", "unit": "water-group", "online": 0}
    assert presence.online_units() == {}


def test_a_socket_whose_process_died_lapses_by_itself(city, monkeypatch):
    import asyncio
    import threading

    # Marked from a thread of its own, as a server's loop would (this one may have a loop running).
    marking = threading.Thread(target=asyncio.run, args=(presence.store().mark("lapsing-unit", "specific.gone!1"),))
    marking.start()
    marking.join()
    assert presence.online_units().get("lapsing-unit") == 1
    real_time = presence.time.time
    monkeypatch.setattr(presence.time, "time", lambda: real_time() + presence.TTL_SECONDS + 1)
    assert "lapsing-unit" not in presence.online_units()


def test_a_shift_closing_hundreds_of_sockets_at_once_leaves_no_trace(city, sockets, caplog, settings):
    import socket as socketlib

    from channels.layers import get_channel_layer
    from tickets.sockets import clients
    from tickets.sockets.layer import ChannelLayer

    # Four connections for 300 sockets leaving at once: they must wait their turn.
    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "pool_size": 4}}}
    assert isinstance(get_channel_layer(), ChannelLayer) and get_channel_layer().pool_size == 4

    group_key = "minhu-ws:group:unit.water-group"
    redis = clients.sync_client()
    before = set(redis.zrange(group_key, 0, -1))
    shift = [sockets("/ws/units/water-group/", user=city.handler) for _ in range(300)]
    for socket in shift:
        socket.ready()
    _until(lambda: presence.online_units() == {"water-group": 300})
    assert len(set(redis.zrange(group_key, 0, -1)) - before) == 300
    # Every connection dropped in the same instant (a network cut, a browser fleet closing).
    for socket in shift:
        socket.connection.socket.shutdown(socketlib.SHUT_RDWR)
    _until(lambda: presence.online_units() == {}, seconds=20)
    _until(lambda: set(redis.zrange(group_key, 0, -1)) <= before, seconds=20)
    assert "could not leave" not in caplog.text and "clean-up failed" not in caplog.text
