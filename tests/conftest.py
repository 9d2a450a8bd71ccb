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

    cache.clear()


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
