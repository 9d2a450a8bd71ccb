"""A real WebSocket client (the `websockets` library) against the live ASGI server."""

import contextlib
import json

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


class Socket:
    """One open socket: read its JSON messages, or the code it was closed with."""

    def __init__(self, connection):
        self.connection = connection

    def next(self, timeout: float = 5.0, *, presence: bool = False) -> dict:
        """Return the next message; "presence" ones (units coming online) only when asked for."""
        while True:
            message = json.loads(self.connection.recv(timeout=timeout))
            if presence == (message["type"] == "presence"):
                return message

    def ready(self) -> dict:
        """Read up to the `socket.ready` message; return it with the replayed messages before it."""
        before = []
        while True:
            message = self.next()
            if message["type"] == "socket.ready":
                return {**message, "before": before}
            before.append(message)

    def quiet(self, timeout: float = 0.5) -> bool:
        """True when nothing arrives within `timeout`."""
        try:
            message = self.next(timeout)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected message {message}")

    def closed_with(self, timeout: float = 5.0) -> int:
        try:
            while True:
                self.connection.recv(timeout=timeout)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    def send(self, data) -> None:
        self.connection.send(data if isinstance(data, (str, bytes)) else json.dumps(data))

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def sockets(asgi_server):
    """Return open(path, user=..., via="token"|"session", origin=..., headers=..., last=...)."""
    opened = contextlib.ExitStack()
    ws_base = asgi_server.replace("http://", "ws://")

    def open_socket(path, *, user=None, via="token", origin=asgi_server, headers=None, session=None, last=None):
        extra = dict(headers or {})
        if user is not None and via == "token":
            token, _ = Token.objects.get_or_create(user=user)
            extra["Authorization"] = f"Token {token.key}"
        elif user is not None:
            client = Client()
            client.force_login(user)
            session = client.cookies["sessionid"].value
        if session is not None:
            extra["Cookie"] = f"sessionid={session}"
        url = ws_base + path + (f"?last={last}" if last is not None else "")
        connection = opened.enter_context(connect(url, origin=origin, additional_headers=extra, open_timeout=5))
        return Socket(connection)

    with opened:
        yield open_socket
