"""GET /api/v1/units/ and GET /api/v1/categories/: the reference data staff pick from."""

from tests.factories import make_category
from tests.tickets.api.helpers import assert_error

UNITS = "/api/v1/units/"
CATEGORIES = "/api/v1/categories/"


def _by_code(response) -> dict[str, dict]:
    assert response.status_code == 200, response.content
    return {row["code"]: row for row in response.json()["results"]}


def test_units_read_as_code_name_kind_parent(city, api):
    body = api(city.handler).get(UNITS).json()

    assert set(body) == {"next", "previous", "results"}
    units = {row["code"]: row for row in body["results"]}
    assert set(units) == {"centre", "wuchang", "wuchang-zhongnan", "water-group", "power-supply"}
    for row in units.values():
        assert set(row) == {"code", "name", "kind", "parent"}
    assert units["centre"] == {
        "code": "centre", "name": "调度中心", "kind": "centre", "parent": None,
    }
    assert units["wuchang-zhongnan"] == {
        "code": "wuchang-zhongnan", "name": "中南路街道", "kind": "street", "parent": "wuchang",
    }


def test_units_come_in_tree_order(city, api):
    codes = [row["code"] for row in api(city.dispatcher).get(UNITS).json()["results"]]

    assert codes.index("centre") < codes.index("wuchang") < codes.index("wuchang-zhongnan")


def test_units_filter_by_kind(city, api):
    units = _by_code(api(city.dispatcher).get(UNITS, {"kind": "utility"}))

    assert set(units) == {"water-group", "power-supply"}
    assert {row["kind"] for row in units.values()} == {"utility"}


def test_units_filter_by_parent(city, api):
    units = _by_code(api(city.dispatcher).get(UNITS, {"parent": "wuchang"}))

    assert set(units) == {"wuchang-zhongnan"}


def test_units_unknown_kind_is_400_with_fields(city, api):
    body = assert_error(api(city.dispatcher).get(UNITS, {"kind": "planet"}), 400, "invalid")

    assert "kind" in body["fields"]


def test_inactive_units_are_not_listed(city, api):
    city.other_bureau.is_active = False
    city.other_bureau.save()

    assert "power-supply" not in _by_code(api(city.dispatcher).get(UNITS))


def test_units_are_cursor_paginated(city, api):
    client = api(city.dispatcher)

    first = client.get(UNITS, {"page_size": 2}).json()
    rest = client.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert not {r["code"] for r in first["results"]} & {r["code"] for r in rest["results"]}


def test_categories_read_with_their_deadline_policies(city, api):
    categories = _by_code(api(city.handler).get(CATEGORIES))

    outage = categories["water-outage"]
    assert {"code", "name", "parent", "default_unit", "deadlines"} <= set(outage)
    assert outage["name"] == "停水"
    assert outage["parent"] == "water"
    assert outage["default_unit"] == "water-group"
    assert outage["deadlines"] == {
        "accept": {"amount": 2, "unit": "hours"},
        "claim": {"amount": 4, "unit": "hours"},
        "resolve": {"amount": 5, "unit": "working_days"},
        "feedback": {"amount": 3, "unit": "working_days"},
    }


def test_category_group_reads_without_parent_or_default_unit(city, api):
    group = _by_code(api(city.dispatcher).get(CATEGORIES))["water"]

    assert group["parent"] is None
    assert group["default_unit"] is None
    assert set(group["deadlines"]) == {"accept", "claim", "resolve", "feedback"}


def test_categories_show_each_policy_as_configured(city, api):
    make_category(code="water-quality", resolve_amount=48, resolve_unit="hours", default_unit=None)

    quality = _by_code(api(city.dispatcher).get(CATEGORIES))["water-quality"]

    assert quality["deadlines"]["resolve"] == {"amount": 48, "unit": "hours"}
    assert quality["default_unit"] is None


def test_inactive_categories_are_not_listed(city, api):
    make_category(code="water-pressure", is_active=False)

    assert "water-pressure" not in _by_code(api(city.dispatcher).get(CATEGORIES))


def test_units_and_categories_are_readable_by_every_staff_role(city, api):
    for user in [city.operator, city.dispatcher, city.handler, city.supervisor, city.outsider]:
        assert api(user).get(UNITS).status_code == 200
        assert api(user).get(CATEGORIES).status_code == 200
