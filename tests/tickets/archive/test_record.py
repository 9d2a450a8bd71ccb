"""A ticket's printable record for the file: the whole of it, to who may see the ticket, reveals logged."""

import io
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.factories import make_ticket
from tests.tickets.admin.helpers import change_url
from tickets import services
from tickets.attachments import CheckedPhoto
from tickets.models import Attachment, PersonalDataAccess, State, Ticket

PHONE, NAME = "13912345678", "李四海"


def _photo() -> CheckedPhoto:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 120, 200)).save(buffer, "PNG")
    return CheckedPhoto(SimpleUploadedFile("done.png", buffer.getvalue(), content_type="image/png"), "image/png")


@pytest.fixture
def filed(city):
    """A ticket lived to its end: resolved with a photo, rated with a comment, archived."""
    ticket = make_ticket(city, State.IN_PROGRESS, description="和平大道<b>路灯</b>不亮", address="武昌区和平大道88号",
                         reporter_phone=PHONE)
    Ticket.objects.filter(id=ticket.id).update(reporter_name=NAME)
    services.ticket_resolve(ticket_id=ticket.id, actor=city.handler, reply="已更换灯泡，恢复照明", photos=[_photo()])
    services.ticket_verify(ticket_id=ticket.id, actor=city.dispatcher)
    services.ticket_rate(ticket_id=ticket.id, actor=city.operator, rating="satisfied", comment="修得很快")
    services.ticket_archive(ticket_id=ticket.id, actor=city.dispatcher)
    return Ticket.objects.get(id=ticket.id)


def _url(ticket) -> str:
    return f"/desk/record/{ticket.number}/"


def _reveal(client, ticket, reason=""):
    return client.post(_url(ticket), {"reveal-reason": reason})


def test_the_record_holds_the_report_every_event_the_reply_the_rating_and_the_photos(browse, city, filed):
    response = browse(city.dispatcher).get(_url(filed))

    assert response.status_code == 200
    page = response.content.decode()
    assert filed.number in page and "武昌区和平大道88号" in page and "水务集团" in page
    assert "和平大道&lt;b&gt;路灯&lt;/b&gt;不亮" in page  # citizen text is escaped
    for step in ("reported", "accepted", "dispatched", "claimed", "resolved with a reply", "verified",
                 "rated by the citizen", "archived"):
        assert f">{step}</td>" in page, step
    assert "已更换灯泡，恢复照明" in page
    assert "satisfied" in page and "修得很快" in page
    photo = Attachment.objects.get(ticket=filed)
    assert f"/admin/tickets/ticket/{filed.id}/attachments/{photo.id}/" in page and "photo with the unit" in page
    assert "this record is read-only" in page


def test_the_record_prints_without_the_back_office_around_it(browse, city, filed):
    page = browse(city.dispatcher).get(_url(filed)).content.decode()

    assert "desk/record.css" in page and "data-print" in page
    stylesheet = Path(finders.find("desk/record.css")).read_text()
    assert "@media print" in stylesheet and "#header" in stylesheet


def test_the_record_of_a_ticket_still_open_is_printable_too(browse, city):
    ticket = make_ticket(city, State.DISPATCHED)

    page = browse(city.handler).get(_url(ticket)).content.decode()

    assert ticket.number in page and "Not rated." in page and "read-only" not in page


def test_the_record_is_reached_from_the_tickets_admin_page(browse, city, filed):
    assert _url(filed) in browse(city.handler).get(change_url(filed)).content.decode()


def test_the_record_is_scoped_like_the_ticket(client, browse, city, filed):
    assert browse(city.other_handler).get(_url(filed)).status_code == 404
    assert browse(city.street_handler).get(_url(filed)).status_code == 404
    assert browse(city.outsider).get(_url(filed)).status_code == 403
    assert client.get(_url(filed)).status_code == 302  # to the login page
    assert browse(city.handler).get("/desk/record/2601019999999/").status_code == 404


def test_the_centre_reads_the_reporter_in_full_and_nothing_is_logged(browse, city, filed):
    page = browse(city.operator).get(_url(filed)).content.decode()

    assert PHONE in page and NAME in page and 'name="reveal-reason"' not in page
    assert not PersonalDataAccess.objects.exists()


def test_unit_staff_read_the_reporter_masked_and_a_reveal_is_logged_for_that_page_only(browse, city, filed):
    client = browse(city.handler)
    page = client.get(_url(filed)).content.decode()
    assert "139****5678" in page and PHONE not in page and NAME not in page
    assert 'name="reveal-reason"' in page

    response = _reveal(client, filed, "归档复核")

    assert response.status_code == 200
    assert PHONE in response.content.decode() and NAME in response.content.decode()
    access = PersonalDataAccess.objects.get()
    assert (access.user, access.ticket_id, access.reason) == (city.handler, filed.id, "归档复核")
    again = client.get(_url(filed)).content.decode()
    assert PHONE not in again and "139****5678" in again


def test_a_supervisor_may_not_reveal_and_its_attempt_is_refused_unlogged(browse, city):
    ticket = make_ticket(city, State.DISPATCHED, unit=city.street, reporter_phone=PHONE)
    client = browse(city.supervisor)
    assert 'name="reveal-reason"' not in client.get(_url(ticket)).content.decode()

    response = _reveal(client, ticket)

    assert response.status_code == 403 and PHONE not in response.content.decode()
    assert not PersonalDataAccess.objects.exists()


def test_a_reveal_reason_too_long_is_refused_and_nothing_is_logged(browse, city, filed):
    response = _reveal(browse(city.handler), filed, "理由" * 101)

    assert response.status_code == 400 and PHONE not in response.content.decode()
    assert not PersonalDataAccess.objects.exists()
