"""Who keeps what in the organisation's admin: the centre everything, a unit admin its own staff."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from departments.models import Membership, Role

URL = "/admin/departments/membership/"


def _add(client, **fields):
    return client.post(f"{URL}add/", {"password": "", **fields})


def test_a_unit_admin_lists_only_its_units_staff(browse, city):
    page = browse(city.unit_admin).get(URL).content.decode()
    assert ">handler<" in page and ">unitadmin<" in page
    assert ">otherhandler<" not in page and ">dispatcher<" not in page and ">supervisor<" not in page


def test_a_unit_admin_creates_an_account_for_a_new_handler(browse, city):
    response = _add(browse(city.unit_admin), username="newhandler", password="water-works-2026!",
                    unit=city.bureau.id, role=Role.HANDLER)

    assert response.status_code == 302, response.content.decode()[:3000]
    user = get_user_model().objects.get(username="newhandler")
    assert user.is_staff and not user.is_superuser
    assert list(Membership.objects.filter(user=user).values_list("unit", "role")) == [(city.bureau.id, Role.HANDLER)]
    assert Client().login(username="newhandler", password="water-works-2026!")


def test_a_unit_admin_makes_its_own_handler_an_admin_too_without_touching_the_password(browse, city):
    response = _add(browse(city.unit_admin), username="handler", unit=city.bureau.id, role=Role.UNIT_ADMIN)

    assert response.status_code == 302
    assert Membership.objects.filter(user=city.handler, unit=city.bureau, role=Role.UNIT_ADMIN).exists()
    assert Client().login(username="handler", password="pw-for-tests-1")


@pytest.mark.parametrize(("fields", "error_on"), [
    ({"username": "x1", "role": Role.DISPATCHER}, "role"),
    ({"username": "x2", "role": Role.SUPERVISOR}, "role"),
    ({"username": "x3", "role": Role.HANDLER, "unit": "other"}, "unit"),
    ({"username": "otherhandler", "role": Role.HANDLER}, "username"),
    ({"username": "dispatcher", "role": Role.HANDLER}, "username"),
    ({"username": "handler", "role": Role.UNIT_ADMIN, "password": "take-over-2026!"}, "password"),
    ({"username": "handler", "role": Role.HANDLER}, "role"),
    ({"username": "x4", "role": Role.HANDLER, "password": ""}, "password"),
])
def test_a_unit_admin_cannot_grant_beyond_its_unit(browse, city, fields, error_on):
    fields = {"password": "water-works-2026!", "unit": city.bureau.id, **fields}
    if fields["unit"] == "other":
        fields["unit"] = city.other_bureau.id
    memberships = set(Membership.objects.values_list("user", "unit", "role"))

    response = _add(browse(city.unit_admin), **fields)

    assert response.status_code == 200
    assert f'id="id_{error_on}_error"' in response.content.decode()
    assert set(Membership.objects.values_list("user", "unit", "role")) == memberships
    assert Client().login(username="handler", password="pw-for-tests-1")


def test_a_unit_admin_removes_a_handler_of_its_unit(browse, city):
    membership = Membership.objects.get(user=city.handler, role=Role.HANDLER)

    response = browse(city.unit_admin).post(f"{URL}{membership.id}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Membership.objects.filter(id=membership.id).exists()


def test_a_unit_admin_cannot_touch_another_units_membership(browse, city):
    other = Membership.objects.get(user=city.other_handler)
    client = browse(city.unit_admin)

    assert client.get(f"{URL}{other.id}/change/").status_code in (302, 403, 404)
    client.post(f"{URL}{other.id}/change/", {"unit": city.bureau.id, "role": Role.HANDLER})
    client.post(f"{URL}{other.id}/delete/", {"post": "yes"})

    other.refresh_from_db()
    assert (other.unit_id, other.role) == (city.other_bureau.id, Role.HANDLER)


def test_a_unit_admin_cannot_turn_its_handler_into_a_dispatcher(browse, city):
    membership = Membership.objects.get(user=city.handler, role=Role.HANDLER)

    response = browse(city.unit_admin).post(
        f"{URL}{membership.id}/change/", {"unit": city.centre.id, "role": Role.DISPATCHER}
    )

    assert response.status_code == 200
    membership.refresh_from_db()
    assert (membership.unit_id, membership.role) == (city.bureau.id, Role.HANDLER)


def test_a_unit_admin_finds_no_units_or_users_through_the_autocomplete(browse, city):
    client = browse(city.unit_admin)
    for field in ("unit", "user"):
        response = client.get("/admin/autocomplete/", {
            "app_label": "departments", "model_name": "membership", "field_name": field, "term": "",
        })
        assert response.status_code == 403, field


@pytest.mark.parametrize("who", ["handler", "supervisor", "outsider"])
@pytest.mark.parametrize("url", [URL, "/admin/departments/unit/", "/admin/departments/category/",
                                 "/admin/departments/calendarday/"])
def test_handlers_and_supervisors_have_nothing_in_the_organisations_admin(browse, city, who, url):
    assert browse(getattr(city, who)).get(url).status_code == 403


@pytest.mark.parametrize("url", ["/admin/departments/unit/", "/admin/departments/category/",
                                 "/admin/departments/calendarday/"])
def test_a_unit_admin_does_not_manage_units_categories_or_the_calendar(browse, city, url):
    assert browse(city.unit_admin).get(url).status_code == 403


def test_an_operator_reads_the_organisation_but_changes_nothing(browse, city):
    client = browse(city.operator)
    assert client.get("/admin/departments/unit/").status_code == 200
    assert client.get(f"/admin/departments/unit/{city.bureau.id}/change/").status_code == 200
    assert client.get(URL).status_code == 403
    response = client.post(f"/admin/departments/unit/{city.bureau.id}/change/", {
        "code": "water-group", "name": "改名", "kind": "utility", "parent": city.centre.id, "is_active": "on",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
    })
    assert response.status_code == 403
    city.bureau.refresh_from_db()
    assert city.bureau.name == "水务集团"


def test_a_dispatcher_gives_a_centre_role_at_the_centre_only(browse, city):
    client = browse(city.dispatcher)

    refused = _add(client, username="newop", password="call-centre-2026!", unit=city.street.id,
                   role=Role.OPERATOR)
    granted = _add(client, username="newop", password="call-centre-2026!", unit=city.centre.id,
                   role=Role.OPERATOR)

    assert refused.status_code == 200 and granted.status_code == 302
    assert list(Membership.objects.filter(user__username="newop").values_list("unit", "role")) == [
        (city.centre.id, Role.OPERATOR)
    ]


def test_a_dispatcher_lists_every_membership(browse, city):
    page = browse(city.dispatcher).get(URL).content.decode()
    for name in ("otherhandler", "supervisor", "handler", "operator"):
        assert f">{name}<" in page
