"""Open311 API keys: the open311_key command, the admin page, revocation and the last use."""

import hashlib
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.factories import make_city
from tests.tickets.open311.conftest import post_request
from tickets.models import Open311Key, Ticket

WHERE = {"service_code": "water-outage", "lat": "30.5", "long": "114.3"}


@pytest.fixture
def city(db):
    return make_city()


def _command(name: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("open311_key", name, stdout=out, stderr=err)
    assert "not shown again" in err.getvalue()
    return out.getvalue().strip()


def test_the_command_prints_a_new_key_stored_only_hashed(city, web):
    raw = _command("fixmystreet")

    key = Open311Key.objects.get()
    assert len(raw) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", raw)
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert (key.name, key.prefix, key.last_used_at, key.revoked_at) == ("fixmystreet", raw[:8], None, None)
    assert raw not in str(list(Open311Key.objects.values()))
    assert post_request(web, raw, **WHERE).status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_client_has_one_working_key_at_a_time(city, web):
    first = _command("fixmystreet")
    with pytest.raises(CommandError, match="already has a working key"):
        _command("fixmystreet")

    Open311Key.objects.filter(name="fixmystreet").update(revoked_at="2026-11-24T00:00:00Z")
    second = _command("fixmystreet")

    assert post_request(web, first, **WHERE).status_code == 403
    assert post_request(web, second, **WHERE).status_code == 200


def test_a_new_key_of_the_same_client_reads_the_requests_its_old_key_sent(city, web):
    first = _command("fixmystreet")
    post_request(web, first, description="水管漏水", **WHERE)
    Open311Key.objects.update(revoked_at="2026-11-24T00:00:00Z")
    second = _command("fixmystreet")
    number = Ticket.objects.get().number

    seen = web.get(f"/open311/v2/requests/{number}.json", {"api_key": second}).json()

    assert seen[0]["description"] == "水管漏水"


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", password="pw-for-tests-1")


def test_a_superuser_creates_a_key_in_the_admin_and_sees_it_once(city, browse, superuser, web):
    admin = browse(superuser)
    assert admin.get("/admin/tickets/open311key/add/").status_code == 200

    page = admin.post("/admin/tickets/open311key/add/", {"name": "city-app"})

    assert page.status_code == 200
    raw = page.context["raw_key"]
    key = Open311Key.objects.get(name="city-app")
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw in page.content.decode()
    listing = admin.get("/admin/tickets/open311key/").content.decode()
    assert f"{raw[:8]}…" in listing and raw not in listing
    detail = admin.get(f"/admin/tickets/open311key/{key.pk}/change/").content.decode()
    assert raw not in detail
    assert post_request(web, raw, **WHERE).status_code == 200


def test_the_admin_refuses_a_second_working_key_for_a_client(city, browse, superuser):
    _command("city-app")

    page = browse(superuser).post("/admin/tickets/open311key/add/", {"name": "city-app"})

    assert page.status_code == 200
    assert "already has a working key" in page.content.decode()
    assert Open311Key.objects.count() == 1


def test_a_superuser_revokes_keys_in_the_admin(city, browse, superuser, web):
    raw = _command("city-app")
    key = Open311Key.objects.get()

    browse(superuser).post("/admin/tickets/open311key/", {
        "action": "revoke", "_selected_action": [str(key.pk)],
    })

    key.refresh_from_db()
    assert key.revoked_at is not None
    assert post_request(web, raw, **WHERE).status_code == 403
    assert browse(superuser).post(f"/admin/tickets/open311key/{key.pk}/delete/").status_code == 403


def test_staff_without_the_permission_do_not_see_the_keys(city, browse):
    assert browse(city.dispatcher).get("/admin/tickets/open311key/").status_code == 403
    assert browse(city.handler).get("/admin/tickets/open311key/add/").status_code == 403


def test_a_key_revoked_elsewhere_stops_working_within_seconds_and_at_once_where_revoked(city, web, monkeypatch):
    from tickets.intake import open311_services

    clock = [1000.0]
    monkeypatch.setattr(open311_services.time, "monotonic", lambda: clock[0])
    key = _command("fixmystreet")
    assert post_request(web, key, **WHERE).status_code == 200

    # Revoked by another process (the admin on another server): this one read it a moment ago.
    Open311Key.objects.update(revoked_at="2026-11-24T00:00:00Z")
    assert post_request(web, key, **WHERE).status_code == 200
    clock[0] += open311_services.KEY_SECONDS + 0.1
    assert post_request(web, key, **WHERE).status_code == 403

    # Revoked in this process: refused at once.
    Open311Key.objects.update(revoked_at=None)
    assert post_request(web, key, **WHERE).status_code == 200
    open311_services.open311_key_revoke(key_id=Open311Key.objects.get().pk)
    assert post_request(web, key, **WHERE).status_code == 403
