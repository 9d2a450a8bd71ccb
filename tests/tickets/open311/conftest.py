"""Helpers for the Open311 tests: a client key, requests in either format, answers parsed."""

import json
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from django.test import Client

from departments.models import AttributeDatatype, Category, CategoryAttribute
from tickets.intake.open311_services import open311_key_create

BASE = "/open311/v2"

SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
ATTRIBUTE_FIELDS = {
    "variable", "code", "datatype", "required", "datatype_description", "order", "description", "values",
}
REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
}
UPDATE_FIELDS = {"update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"}


@pytest.fixture
def web():
    # The suite reads English; the hotline's default language is Chinese.
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def api_key(db) -> str:
    _key, raw = open311_key_create(name="fixmystreet")
    return raw


@pytest.fixture
def other_key(db) -> str:
    _key, raw = open311_key_create(name="city-app")
    return raw


def xml_of(response) -> ElementTree.Element:
    """Return the root of a well-formed UTF-8 XML answer, checking its declaration and type."""
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ElementTree.fromstring(response.content)


def json_of(response):
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(response.content.decode("utf-8"))


def children(element: ElementTree.Element) -> dict[str, str]:
    """Return an element's children by name (each once), with their text ("" when empty)."""
    names = [child.tag for child in element]
    assert len(names) == len(set(names)), names
    return {child.tag: child.text or "" for child in element}


def items_of(response, fmt: str, root: str, item: str) -> list[dict]:
    """Return the list a 200 answer holds: JSON's objects, or the XML items as {child: text}."""
    assert response.status_code == 200, response.content
    if fmt == "json":
        return json_of(response)
    element = xml_of(response)
    assert element.tag == root and {child.tag for child in element} <= {item}
    return [children(child) for child in element]


def errors_of(response, fmt: str) -> list[dict]:
    """Return the spec's error list of an answer, in either format, as [{code, description}]."""
    if fmt == "json":
        errors = json_of(response)
        assert all(set(e) == {"code", "description"} for e in errors)
        return errors
    root = xml_of(response)
    assert root.tag == "errors"
    result = []
    for error in root:
        assert error.tag == "error"
        fields = children(error)
        assert set(fields) == {"code", "description"}
        result.append({"code": int(fields["code"]), "description": fields["description"]})
    return result


FORM = "application/x-www-form-urlencoded"


def post_form(web, path: str, data: dict):
    """POST a form-encoded body, as Open311 clients do (lists for repeated fields)."""
    return web.post(f"{BASE}/{path}", urlencode(data, doseq=True), content_type=FORM)


def post_request(web, api_key: str, fmt: str = "json", fields: dict | None = None, **more):
    """POST a service request to requests.{fmt} with the key and the fields given."""
    return post_form(web, f"requests.{fmt}", {"api_key": api_key, **(fields or {}), **more})


def make_service_with_questions() -> Category:
    """Return a street-light service asking one question of each datatype, and one line of information."""
    group, _ = Category.objects.get_or_create(code="municipal", defaults={"name": "市政设施"})
    category, _ = Category.objects.update_or_create(code="street-light", defaults={
        "name": "路灯故障", "parent": group, "keywords": "路灯, 照明, street light",
        "description": "路灯不亮、闪烁或灯杆损坏",
    })
    rows = [
        ("kind", AttributeDatatype.SINGLEVALUELIST, True, [("dark", "不亮"), ("flicker", "闪烁")]),
        ("parts", AttributeDatatype.MULTIVALUELIST, False, [("lamp", "灯头"), ("pole", "灯杆"), ("cable", "线缆")]),
        ("area", AttributeDatatype.NUMBER, False, []),
        ("seen_at", AttributeDatatype.DATETIME, False, []),
        ("pole_number", AttributeDatatype.STRING, False, []),
        ("details", AttributeDatatype.TEXT, False, []),
    ]
    for order, (code, datatype, required, choices) in enumerate(rows, start=1):
        CategoryAttribute.objects.create(
            category=category, code=code, datatype=datatype, required=required, order=order,
            description=f"问题 {code}", values=[{"key": k, "name": n} for k, n in choices],
        )
    CategoryAttribute.objects.create(
        category=category, code="notice", datatype=AttributeDatatype.STRING, variable=False, order=9,
        description="夜间故障请同时拨打 12345",
    )
    return category
