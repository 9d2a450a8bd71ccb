"""Discovery, the service list and service definitions, in both formats; unknown paths, formats, methods."""

import pytest

from departments.models import Category
from tests.factories import make_city
from tests.tickets.open311.conftest import (
    ATTRIBUTE_FIELDS,
    BASE,
    SERVICE_FIELDS,
    children,
    errors_of,
    json_of,
    make_service_with_questions,
    xml_of,
)

FORMATS = ["xml", "json"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_names_this_endpoint_the_specification_and_both_formats(db, web, fmt):
    response = web.get(f"{BASE}/discovery.{fmt}")

    assert response.status_code == 200
    if fmt == "json":
        discovery = json_of(response)
        endpoint = discovery["endpoints"][0]
        formats = endpoint["formats"]
    else:
        root = xml_of(response)
        assert root.tag == "discovery"
        discovery = children(root)
        [element] = root.find("endpoints")
        assert element.tag == "endpoint"
        endpoint = children(element)
        formats = [f.text for f in element.find("formats")]
        assert {f.tag for f in element.find("formats")} == {"format"}
    assert set(discovery) == {"changeset", "contact", "key_service", "endpoints"}
    assert set(endpoint) == {"specification", "url", "changeset", "type", "formats"}
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["type"] == "production"
    assert formats == ["text/xml", "application/json"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_are_the_active_leaf_categories_with_the_spec_fields(db, web, fmt):
    make_city()
    make_service_with_questions()
    Category.objects.create(code="retired", name="旧类别", parent=Category.objects.get(code="water"), is_active=False)

    response = web.get(f"{BASE}/services.{fmt}")

    assert response.status_code == 200
    if fmt == "json":
        services = json_of(response)
    else:
        root = xml_of(response)
        assert root.tag == "services" and {s.tag for s in root} == {"service"}
        services = [children(s) for s in root]
    assert all(set(s) == SERVICE_FIELDS for s in services)
    by_code = {s["service_code"]: s for s in services}
    assert set(by_code) == {"water-outage", "street-light"}  # no group, nothing inactive
    light, water = by_code["street-light"], by_code["water-outage"]
    assert light["service_name"] == "路灯故障"
    assert light["group"] == "市政设施"
    assert light["keywords"] == "路灯, 照明, street light"
    assert light["description"] == "路灯不亮、闪烁或灯杆损坏"
    assert light["type"] == water["type"] == "realtime"
    assert water["description"] == "供水 › 停水"  # no description of its own: its full name
    if fmt == "json":
        assert light["metadata"] is True and water["metadata"] is False
    else:
        assert light["metadata"] == "true" and water["metadata"] == "false"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_service_definition_lists_its_questions_of_all_six_datatypes(db, web, fmt):
    make_service_with_questions()

    response = web.get(f"{BASE}/services/street-light.{fmt}")

    assert response.status_code == 200
    if fmt == "json":
        definition = json_of(response)
        assert set(definition) == {"service_code", "attributes"}
        attributes = definition["attributes"]
    else:
        root = xml_of(response)
        assert root.tag == "service_definition"
        assert [c.tag for c in root] == ["service_code", "attributes"]
        definition = {"service_code": root.find("service_code").text}
        attributes = []
        for element in root.find("attributes"):
            assert element.tag == "attribute"
            fields = children(element)
            values = element.find("values")
            assert {v.tag for v in values} <= {"value"}
            fields["values"] = [children(v) for v in values]
            attributes.append(fields)
    assert definition["service_code"] == "street-light"
    assert all(set(a) == ATTRIBUTE_FIELDS for a in attributes)
    assert [a["code"] for a in attributes] == ["kind", "parts", "area", "seen_at", "pole_number", "details", "notice"]
    assert [a["datatype"] for a in attributes] == [
        "singlevaluelist", "multivaluelist", "number", "datetime", "string", "text", "string",
    ]
    kind, notice = attributes[0], attributes[-1]
    assert kind["values"] == [{"key": "dark", "name": "不亮"}, {"key": "flicker", "name": "闪烁"}]
    assert all(set(v) == {"key", "name"} for a in attributes for v in a["values"])
    assert attributes[2]["values"] == []
    if fmt == "json":
        assert (kind["required"], kind["variable"], kind["order"]) == (True, True, 1)
        assert (notice["required"], notice["variable"]) == (False, False)
    else:
        assert (kind["required"], kind["variable"], kind["order"]) == ("true", "true", "1")
        assert (notice["required"], notice["variable"]) == ("false", "false")


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unknown_service_definition_is_404_in_the_spec_format(db, web, fmt):
    make_city()

    response = web.get(f"{BASE}/services/no-such-thing.{fmt}")

    assert response.status_code == 404
    [error] = errors_of(response, fmt)
    assert error["code"] == 404 and "no-such-thing" in error["description"]


def test_a_group_is_no_service(db, web):
    make_city()

    assert web.get(f"{BASE}/services/water.json").status_code == 404


@pytest.mark.parametrize("path", ["services.csv", "services.html", "requests.yaml", "tokens/abc.txt"])
def test_an_unknown_format_extension_is_404_in_xml(db, web, path):
    response = web.get(f"{BASE}/{path}")

    assert response.status_code == 404
    [error] = errors_of(response, "xml")
    assert error["code"] == 404


@pytest.mark.parametrize("path", ["", "services", "nothing.json", "services/a/b.json"])
def test_unknown_paths_under_open311_answer_the_spec_404(db, web, path):
    response = web.get(f"{BASE}/{path}")

    assert response.status_code == 404
    fmt = "json" if path.endswith(".json") else "xml"
    assert errors_of(response, fmt)[0]["code"] == 404


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("put", "services.json", "GET, HEAD"),
    ("post", "services.json", "GET, HEAD"),
    ("delete", "requests.json", "GET, POST, HEAD"),
    ("patch", "servicerequestupdates.xml", "GET, POST, HEAD"),
    ("post", "tokens/abc.xml", "GET, HEAD"),
])
def test_a_wrong_method_is_405_in_the_spec_format(db, web, method, path, allowed):
    response = getattr(web, method)(f"{BASE}/{path}")

    assert response.status_code == 405
    assert response["Allow"] == allowed
    assert errors_of(response, path.rsplit(".", 1)[1])[0]["code"] == 405
