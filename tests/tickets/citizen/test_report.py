"""The citizen's report form (/): a web ticket, its number and its access code shown once."""

import io
import os
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.factories import make_category
from tests.tickets.citizen.helpers import csrf_token, photo
from tickets.models import Attachment, Channel, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

GOOD = {"category": "water-outage", "description": "小区停水两天了", "address": "武昌区中南路1号",
        "lat": "30.5434", "lng": "114.3416", "name": "李四", "phone": "139 0013 9000"}


def _post(client, **fields):
    return client.post("/", {**GOOD, **fields})


def _written() -> tuple[int, int, int]:
    return Ticket.objects.count(), TicketEvent.objects.count(), Attachment.objects.count()


def _code_from(page: str) -> str:
    return re.search(r'data-code="(\d+)"', page).group(1)


def test_the_form_lists_active_leaf_categories_under_their_groups(citizen, city):
    make_category(code="water-pressure", name="水压低")
    make_category(code="water-old", name="已停用的分类", is_active=False)

    page = citizen.get("/").content.decode()

    group = re.search(r'<optgroup label="供水">(.*?)</optgroup>', page, re.S).group(1)
    assert 'value="water-outage"' in group and 'value="water-pressure"' in group
    assert 'value="water-old"' not in page and 'value="water"' not in page


def test_the_form_is_in_simplified_chinese_unless_asked_otherwise(client, city):
    page = client.get("/").content.decode()

    assert '<html lang="zh-hans">' in page
    assert page.count("<h1") == 1 and 'href="#main"' in page and 'id="main"' in page


def test_a_report_opens_one_web_ticket_with_its_photos_and_shows_the_number_and_code(citizen, city):
    response = _post(citizen, photos=[photo("a.png"), photo("b.jpg", kind="JPEG")])

    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert response["Location"] == f"/reported/{ticket.number}/"
    assert (ticket.channel, ticket.category, ticket.reporter_phone, ticket.reporter_name) == (
        Channel.WEB, city.category, "13900139000", "李四")
    assert (str(ticket.lat), str(ticket.lng), ticket.address) == ("30.543400", "114.341600", "武昌区中南路1号")
    event = TicketEvent.objects.get()
    assert (event.ticket, event.kind, event.actor, event.payload) == (ticket, "report", None, {"channel": "web"})
    attachments = list(Attachment.objects.filter(ticket=ticket).order_by("id"))
    assert [a.content_type for a in attachments] == ["image/png", "image/jpeg"]
    media = Path(django_settings.MEDIA_ROOT)
    assert all(Path(a.file.path).is_file() and media in Path(a.file.path).parents for a in attachments)

    page = citizen.get(response["Location"]).content.decode()
    assert ticket.number in page and ticket.check_access_code(_code_from(page))


def test_the_access_code_works_on_the_tracking_page(citizen, city):
    number = _post(citizen)["Location"].split("/")[-2]
    code = _code_from(citizen.get(f"/reported/{number}/").content.decode())

    response = citizen.post(f"/track/{number}/", {"code": code}, follow=True)

    assert response.status_code == 200
    assert 'data-state="reported"' in response.content.decode()


def test_the_access_code_is_shown_once_and_a_refresh_sends_nothing_again(citizen, city):
    done = _post(citizen)["Location"]
    first = citizen.get(done)

    again = citizen.get(done).content.decode()

    assert "data-code" in first.content.decode() and first["Cache-Control"] == "no-store"
    assert "data-code" not in again and Ticket.objects.get().number in again
    assert Ticket.objects.count() == 1


def test_another_browser_cannot_open_the_receipt(citizen, city):
    from django.test import Client

    done = _post(citizen)["Location"]

    response = Client().get(done)

    assert response.status_code == 302 and response["Location"].startswith("/track/")


def test_an_anonymous_report_needs_only_category_and_description(citizen, city):
    response = citizen.post("/", {"category": "water-outage", "description": "路灯不亮"})

    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert (ticket.reporter_name, ticket.reporter_phone, ticket.lat) == ("", "", None)


def _not_an_image():
    return SimpleUploadedFile("notes.jpg", b"just some text, not a photo\n" * 20, content_type="image/jpeg")


def _big_photo():
    buffer = io.BytesIO()
    Image.frombytes("RGB", (640, 640), os.urandom(640 * 640 * 3)).save(buffer, "PNG")
    return SimpleUploadedFile("big.png", buffer.getvalue(), content_type="image/png")


@pytest.mark.parametrize("fields, field, message", [
    ({"description": "   \n  "}, "description", "This field is required."),
    ({"phone": "12345"}, "phone", "Use an 11-digit mobile number or a landline with its area code."),
    ({"category": "no-such-category"}, "category", "Select a valid choice."),
    ({"category": "water"}, "category", "Select a valid choice."),
    ({"lng": ""}, "lng", "Give both latitude and longitude, or neither."),
    ({"lat": "north"}, "lat", "Must be a number."),
    ({"lat": "95"}, "lat", "Must be between -90 and 90."),
    ({"photos": [_not_an_image()]}, "photos", "notes.jpg is not a JPEG, PNG or WebP image."),
    ({"photos": [photo(f"p{i}.png") for i in range(5)]}, "photos", "At most 4 photos."),
    ({"photos": [_big_photo()]}, "photos", "big.png is larger than 1 MB."),
    ({"description": "很长" * 2501}, "description", "Ensure this value has at most 5000 characters"),
])
def test_bad_input_is_explained_on_the_form_and_nothing_is_written(citizen, city, settings, fields, field,
                                                                   message):
    settings.MINHU_MAX_PHOTO_BYTES = 1024 * 1024

    response = _post(citizen, **fields)

    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert response.context["form"].errors[field]
    # The message is tied to its input for screen readers.
    assert re.search(rf'<ul class="errorlist" id="id_{field}_error">', page)
    assert re.search(rf'<[^>]+aria-describedby="[^"]*id_{field}_error[^"]*"[^>]*id="id_{field}"', page)
    assert 'role="alert"' in page
    assert _written() == (0, 0, 0)
    assert not [path for path in Path(django_settings.MEDIA_ROOT).rglob("*") if path.is_file()]


def test_what_was_typed_is_kept_when_the_form_comes_back(citizen, city):
    page = _post(citizen, phone="12345").content.decode()

    assert "小区停水两天了" in page and 'value="武昌区中南路1号"' in page


def test_the_form_needs_its_csrf_token_and_a_forged_one_gets_a_clear_page(guarded, city):
    token = csrf_token(guarded.get("/").content.decode())

    missing = _post(guarded)
    forged = _post(guarded, csrfmiddlewaretoken="x" * 64)

    for response in (missing, forged):
        assert response.status_code == 403
        page = response.content.decode()
        assert "The form has expired" in page and "<h1>" in page and 'lang="en"' in page
    assert _written() == (0, 0, 0)
    assert _post(guarded, csrfmiddlewaretoken=token).status_code == 302


def test_staff_pages_keep_djangos_csrf_page(guarded, city):
    response = guarded.post("/admin/login/", {"username": "x", "password": "y"})

    assert response.status_code == 403 and "The form has expired" not in response.content.decode()


def test_a_form_post_beyond_the_text_limit_gets_a_clear_page_and_writes_nothing(guarded, city):
    token = csrf_token(guarded.get("/").content.decode())
    huge = "水" * django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    for photos in ([], [photo()]):  # url-encoded, and multipart with a photo
        response = _post(guarded, csrfmiddlewaretoken=token, description=huge, photos=photos)

        assert response.status_code == 413
        assert "Your report is too large" in response.content.decode()
    assert _written() == (0, 0, 0)


def test_a_body_beyond_the_upload_limit_is_refused_before_it_is_read(citizen, city):
    oversized = SimpleUploadedFile("huge.png", b"\0" * (django_settings.MINHU_MAX_UPLOAD_BYTES + 1))

    response = _post(citizen, photos=[oversized])

    assert response.status_code == 413
    page = response.content.decode()
    assert "Your report is too large" in page and "at most 5 MB each and 4 in all" in page
    assert _written() == (0, 0, 0)


def test_reports_from_one_client_are_limited_per_minute(citizen, city):
    for _ in range(5):
        assert _post(citizen).status_code == 302

    response = _post(citizen)

    assert response.status_code == 429
    assert "Too many reports" in response.content.decode()
    assert Ticket.objects.count() == 5
    assert citizen.get("/").status_code == 200  # reading the form is never limited


def test_the_limit_is_per_client(citizen, city):
    for _ in range(5):
        _post(citizen)

    other = citizen.post("/", GOOD, REMOTE_ADDR="10.1.2.3")

    assert other.status_code == 302


def test_reports_from_one_client_are_limited_per_hour(citizen, city):
    import time_machine

    with time_machine.travel("2026-11-24 09:00 +0800", tick=False) as clock:
        for _ in range(6):
            for _ in range(5):
                assert _post(citizen).status_code == 302
            clock.shift(61)

        assert _post(citizen).status_code == 429
    assert Ticket.objects.count() == 30


def test_citizen_text_is_escaped_on_the_receipt_and_the_tracking_page(citizen, city):
    script = "<script>alert(1)</script>"
    done = _post(citizen, description=script, address=script, name=script)["Location"]
    receipt = citizen.get(done).content.decode()
    number = done.split("/")[-2]

    tracking = citizen.post(f"/track/{number}/", {"code": _code_from(receipt)}, follow=True).content.decode()

    for page in (receipt, tracking):
        assert script not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_behind_a_proxy_the_limit_follows_the_configured_client_header(citizen, city, settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    for _ in range(5):
        assert citizen.post("/", GOOD, HTTP_X_REAL_IP="10.9.9.9").status_code == 302

    assert citizen.post("/", GOOD, HTTP_X_REAL_IP="10.9.9.9").status_code == 429
    assert citizen.post("/", GOOD, HTTP_X_REAL_IP="10.9.9.10").status_code == 302


def test_the_language_button_names_each_language_in_itself(client):
    assert ">English</button>" in client.get("/").content.decode()
    assert ">简体中文</button>" in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
