"""POST /api/v1/auth/token/ and what the API answers to clients without a valid token."""

import secrets

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.throttling import ScopedRateThrottle

from tests.tickets.api.helpers import TICKETS, assert_error

TOKEN = "/api/v1/auth/token/"
PASSWORD = "pw-for-tests-1"


@pytest.fixture
def address():
    """Return a client address of this test's own, so the token throttle starts at zero."""
    value = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    cache.delete(f"throttle_token_{value}")
    yield value
    cache.delete(f"throttle_token_{value}")


def test_good_credentials_give_a_token(city, api, address):
    response = api().post(
        TOKEN, {"username": "dispatcher", "password": PASSWORD}, format="json", REMOTE_ADDR=address
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token"}
    assert isinstance(body["token"], str) and len(body["token"]) >= 20


def test_the_same_user_gets_the_same_token_twice(city, api, address):
    first = api().post(
        TOKEN, {"username": "handler", "password": PASSWORD}, format="json", REMOTE_ADDR=address
    )
    second = api().post(
        TOKEN, {"username": "handler", "password": PASSWORD}, format="json", REMOTE_ADDR=address
    )

    assert first.json()["token"] == second.json()["token"]


def test_token_is_accepted_in_the_authorization_header(city, api, address):
    token = api().post(
        TOKEN, {"username": "operator", "password": PASSWORD}, format="json", REMOTE_ADDR=address
    ).json()["token"]
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = client.get(TICKETS)

    assert response.status_code == 200
    assert "results" in response.json()


def test_wrong_password_is_refused_as_invalid_credentials(city, api, address):
    response = api().post(
        TOKEN, {"username": "dispatcher", "password": "not-the-password"}, format="json",
        REMOTE_ADDR=address,
    )

    assert_error(response, 400, "invalid_credentials")
    assert "token" not in response.json()


def test_unknown_username_is_refused_like_a_wrong_password(city, api, address):
    response = api().post(
        TOKEN, {"username": "nobody", "password": PASSWORD}, format="json", REMOTE_ADDR=address
    )

    assert_error(response, 400, "invalid_credentials")


def test_account_that_is_not_staff_gets_no_token(city, api, address):
    get_user_model().objects.create_user("citizen", password=PASSWORD, is_staff=False)

    response = api().post(
        TOKEN, {"username": "citizen", "password": PASSWORD}, format="json", REMOTE_ADDR=address
    )

    assert_error(response, 400, "invalid_credentials")


def test_deactivated_staff_gets_no_token(city, api, address):
    city.handler.is_active = False
    city.handler.save()

    response = api().post(
        TOKEN, {"username": "handler", "password": PASSWORD}, format="json", REMOTE_ADDR=address
    )

    assert_error(response, 400, "invalid_credentials")


def test_token_request_without_password_names_the_missing_field(city, api, address):
    response = api().post(TOKEN, {"username": "dispatcher"}, format="json", REMOTE_ADDR=address)

    body = assert_error(response, 400)
    assert "password" in body["fields"]


def test_token_requests_are_throttled_with_a_json_429(city, api, address):
    allowed, _seconds = ScopedRateThrottle().parse_rate(ScopedRateThrottle.THROTTLE_RATES["token"])
    client = api()
    statuses = [
        client.post(
            TOKEN, {"username": "dispatcher", "password": "guess"}, format="json",
            REMOTE_ADDR=address,
        ).status_code
        for _ in range(allowed)
    ]
    response = client.post(
        TOKEN, {"username": "dispatcher", "password": PASSWORD}, format="json", REMOTE_ADDR=address
    )

    assert statuses == [400] * allowed
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_listing_tickets_without_credentials_is_401_json(city, api):
    response = api().get(TICKETS)

    body = assert_error(response, 401, "unauthenticated")
    assert set(body) == {"error", "detail"}
    assert response["WWW-Authenticate"].startswith("Token")


def test_unknown_token_is_401_json(city, api):
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    response = client.get(TICKETS)

    assert_error(response, 401, "unauthenticated")


def test_token_of_a_deactivated_user_stops_working(city, api):
    client = api(city.handler)
    city.handler.is_active = False
    city.handler.save()

    response = client.get(TICKETS)

    assert_error(response, 401, "unauthenticated")


@pytest.mark.parametrize(
    "url",
    ["/api/v1/units/", "/api/v1/categories/", "/api/v1/tickets/2601010000001/"],
)
def test_every_staff_endpoint_needs_credentials(city, api, url):
    assert_error(api().get(url), 401, "unauthenticated")


def test_creating_a_ticket_without_credentials_is_401_json(city, api):
    body = {"category": "water-outage", "description": "停水"}

    response = api().post(TICKETS, body, format="json")

    assert_error(response, 401, "unauthenticated")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/nothing-here/", "/api/v2/tickets/", "/api/v1/tickets/2601010000001/teleport/",
        "/api/",
    ],
)
def test_unknown_url_under_the_api_is_a_json_404(city, api, url):
    assert_error(api(city.dispatcher).get(url), 404, "not_found")


def test_unknown_url_under_the_api_is_a_json_404_without_credentials_too(db, api):
    assert_error(api().post("/api/v1/nothing-here/", {}, format="json"), 404, "not_found")
