"""config.postgresql: Django's health check of a kept connection, without a round trip when it can."""

import time

import psycopg
import pytest
from django.db import connection


@pytest.fixture
def observer(transactional_db):
    """A second connection to the test database, to read what the first one's backend ran last."""
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k not in {"cursor_factory", "context"}},
                         autocommit=True) as other:
        def last_statement() -> str:
            pid = connection.connection.info.backend_pid
            return other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]

        yield other, last_statement


def test_a_healthy_idle_connection_is_usable_and_nothing_is_sent_to_find_out(observer):
    _other, last_statement = observer
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last statement'")

    assert connection.is_usable()
    assert last_statement() == "SELECT 'the last statement'"


def test_a_connection_the_server_ended_is_not_usable(observer):
    other, _last_statement = observer
    connection.ensure_connection()
    other.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    time.sleep(0.2)  # the server's goodbye travels

    assert not connection.is_usable()
    connection.close()


def test_input_waiting_on_an_idle_connection_is_checked_with_a_statement(observer):
    other, last_statement = observer
    with connection.cursor() as cursor:
        cursor.execute("LISTEN minhu_health_check")
    other.execute("NOTIFY minhu_health_check")
    time.sleep(0.2)

    try:
        assert connection.is_usable()
        assert last_statement() == "SELECT 1"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("UNLISTEN *")
