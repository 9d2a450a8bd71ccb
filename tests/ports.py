"""A free TCP port on loopback, for the servers tests start."""

import socket


def spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
