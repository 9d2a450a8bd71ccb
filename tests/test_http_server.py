"""The HTTP side as production runs it (`python -m config.http`): granian serving the webhooks."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from tests.ports import spare_port
from tickets.intake.common import sign
from tickets.models import InboundMessage, Ticket

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sms-secret-for-the-server-test"


def _server_env(**extra) -> dict[str, str]:
    database = urlsplit(os.environ["DATABASE_URL"])
    test_database = urlunsplit(database._replace(path="/" + connection.settings_dict["NAME"]))
    return {**os.environ, "DATABASE_URL": test_database, "SECRET_KEY": "k" * 50, "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1", "MINHU_INTAKE_SECRET_SMS": SECRET, **extra}


class Started(NamedTuple):
    pid: int
    port: int


@pytest.fixture
def http_server(transactional_db):
    """Start `python -m config.http` on a free port: one worker of one thread, so each
    request meets the same database connection. Yields its main process's pid and its port."""
    port = spare_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "config.http", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=_server_env(GRANIAN_WORKERS="1", GRANIAN_BLOCKING_THREADS="1"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.stdout.read()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "the HTTP server did not start"
            time.sleep(0.1)
    try:
        yield Started(process.pid, port)
    finally:
        # Its database connections must close before the test database is flushed.
        process.terminate()
        process.wait(timeout=20)


def _deliver(conn: http.client.HTTPConnection, message_id: str) -> tuple[int, dict]:
    body = json.dumps({"message_id": message_id, "from": "13800138000", "text": "中山路停水两天了",
                       "received_at": "2026-11-24T09:30:00+08:00"}, ensure_ascii=False).encode()
    stamp = str(int(time.time()))
    conn.request("POST", "/intake/sms/", body=body, headers={
        "Content-Type": "application/json", "X-Minhu-Timestamp": stamp,
        "X-Minhu-Signature": sign(SECRET, stamp, body),
    })
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def test_the_server_takes_deliveries_on_one_kept_alive_connection_and_answers_a_repeat_alike(http_server):
    conn = http.client.HTTPConnection("127.0.0.1", http_server.port, timeout=20)
    first = _deliver(conn, "server-1")
    kept = conn.sock
    second = _deliver(conn, "server-2")
    again = _deliver(conn, "server-1")

    assert conn.sock is kept, "the connection was not kept alive"
    assert (first[0], second[0], again[0]) == (201, 201, 200)
    assert again[1] == first[1] and first[1]["number"] != second[1]["number"]
    assert set(Ticket.objects.values_list("number", flat=True)) == {first[1]["number"], second[1]["number"]}
    assert InboundMessage.objects.count() == 2


def test_a_delivery_after_postgresql_ended_the_servers_connection_is_taken(http_server):
    conn = http.client.HTTPConnection("127.0.0.1", http_server.port, timeout=20)
    assert _deliver(conn, "before")[0] == 201
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                       " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        assert cursor.fetchall(), "the server held no database connection"

    status, answer = _deliver(conn, "after")

    assert status == 201
    assert Ticket.objects.filter(number=answer["number"]).exists()


def test_a_worker_that_dies_is_started_again(http_server):
    workers = _children(http_server.pid)
    assert len(workers) == 1
    os.kill(workers[0], signal.SIGKILL)

    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", http_server.port, timeout=5)
            status, _answer = _deliver(conn, "after-the-kill")
            break
        except (ConnectionError, http.client.HTTPException, OSError):
            assert time.monotonic() < deadline, "no worker took requests again"
            time.sleep(0.2)
    assert status == 201
    assert _children(http_server.pid) not in ([], workers)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


def test_the_server_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in _server_env().items() if k != "SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "config.http", "--host", "127.0.0.1", "--port", str(spare_port())],
        cwd=ROOT, env={**env, "GRANIAN_WORKERS": "1"}, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode != 0 and "SECRET_KEY" in result.stdout + result.stderr
