"""A third-party Open311 client (georeport, from PyPI) against the server running on a real port.

georeport reads services, definitions and requests in both formats; it sends nothing,
so the report itself goes out as any client's form POST would (requests, which
georeport uses too).
"""

import pytest
import requests
from georeport import GeoReport

from tests.factories import make_city
from tests.tickets.open311.conftest import make_service_with_questions
from tickets import services
from tickets.intake.open311_services import open311_key_create
from tickets.models import Ticket


@pytest.fixture
def server(live_server, settings):
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
    return f"{live_server.url}/open311/v2"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_open311_client_library_reads_what_its_report_became(server, transactional_db, fmt):
    city = make_city()
    make_service_with_questions()
    _key, api_key = open311_key_create(name="client-library")
    client = GeoReport(server, api_key=api_key, output_format=fmt)

    listed = client.get_service_list()
    definition = client.get_service_definition("street-light")
    sent = requests.post(f"{server}/requests.json", data={
        "api_key": api_key, "service_code": "street-light", "lat": "30.546712", "long": "114.341129",
        "description": "路灯不亮", "attribute[kind]": "dark", "attribute[parts][]": ["lamp", "pole"],
    }, timeout=10)
    number = sent.json()[0]["service_request_id"]
    services.ticket_accept(ticket_id=Ticket.objects.get(number=number).id, actor=city.dispatcher)
    one = client.get_service_request(number)
    many = client.get_service_requests(service_request_id=number, status="open")

    assert sent.status_code == 200
    assert {s["service_code"] for s in listed} == {"water-outage", "street-light"}
    attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
    assert [a["code"] for a in attributes][:2] == ["kind", "parts"]
    assert one["service_request_id"] == number and one["status"] == "open"
    assert one["service_code"] == "street-light"
    if fmt == "xml":  # a single request comes back as the one element, not a list
        assert many["service_request_id"] == number
    else:
        assert [r["service_request_id"] for r in many] == [number]
