import pytest
from django.test import Client


@pytest.fixture
def citizen(db):
    """Return an anonymous browser-like client reading the English pages."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def guarded(db):
    """Return an anonymous client that checks CSRF tokens as a real browser session would."""
    return Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
