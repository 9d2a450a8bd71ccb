import pytest
from rest_framework.test import APIClient

from departments import calendar
from tests.factories import make_city


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 costs ~0.3 s a password by design; tests create many accounts.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _static_files_without_collectstatic(settings):
    # Production serves hashed files from a manifest made by collectstatic at release.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    # Photos land in a folder of the test's own, never in the checkout's media/.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _empty_cache():
    # Throttle counters live in the cache (Redis): one test's requests must not
    # throttle the next one's.
    from django.core.cache import cache

    from tickets import routing
    from tickets.intake import open311_services

    cache.clear()
    routing.forget_rules()  # rules read in a test rolled back must not route the next
    open311_services.forget_keys()  # nor keys read in it let the next one in


@pytest.fixture(autouse=True)
def _fresh_calendar_cache():
    # Each test builds its own calendar rows; never reuse another test's cached year.
    calendar.clear_cache()
    yield
    calendar.clear_cache()


@pytest.fixture
def city(db):
    return make_city()


@pytest.fixture
def api():
    """Return a function giving an API client authenticated as a user (token auth)."""

    def client_for(user=None, language: str = "en") -> APIClient:
        client = APIClient()
        # Error details follow Accept-Language (zh-hans without one); the suite reads English.
        client.credentials(HTTP_ACCEPT_LANGUAGE=language)
        if user is not None:
            from rest_framework.authtoken.models import Token

            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT_LANGUAGE=language)
        return client

    return client_for


@pytest.fixture
def browse(db):
    """Return a function giving a browser-like client logged in (session) as a user, in English."""
    from django.test import Client

    def client_for(user) -> Client:
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(user)
        return client

    return client_for


@pytest.fixture
def asgi_server(transactional_db, settings):
    """Serve the ASGI application (HTTP with static files, and the WebSockets) on a free port.

    The production stack: uvicorn, the Redis channel layer, the test database (committed
    data, hence transactional_db). Yields the base URL, http://127.0.0.1:<port>.
    """
    import threading
    import time

    import uvicorn
    from channels.layers import channel_layers
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.db import connections

    from config.asgi import application
    from tests.ports import spare_port
    from tickets import broadcast

    # A channel layer serves the one event loop that receives on it: give this server its own.
    channel_layers.backends.clear()
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
    # Connections opened by the server's threads must close after each request, or the
    # test database could not be flushed and dropped.
    database = connections["default"].settings_dict
    kept_age = database["CONN_MAX_AGE"]
    database["CONN_MAX_AGE"] = 0
    static = ASGIStaticFilesHandler(application)

    async def app(scope, receive, send):
        handler = static if scope["type"] == "http" else application
        return await handler(scope, receive, send)

    port = spare_port()
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", ws_max_size=65536,
        timeout_graceful_shutdown=1,
    ))
    thread = threading.Thread(target=server.run, name="asgi-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the ASGI server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        # Broadcasts of the next test go through a fresh loop, to that test's channel layer.
        broadcast.stop_sending()
        database["CONN_MAX_AGE"] = kept_age
        channel_layers.backends.clear()
