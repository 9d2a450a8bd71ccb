"""Photos with a unit's reply: checked to be images, stored privately, served only to who sees the ticket."""

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import make_ticket
from tests.tickets.admin.helpers import CHANGELIST, action_url, change_url, history
from tickets.models import Attachment, State, Ticket


def _resolve(client, ticket, photos, **extra):
    return client.post(action_url(ticket, "resolve"), {"resolve-reply": "已更换水表", "resolve-photos": photos},
                       **extra)


def test_a_reply_with_a_png_stores_it_and_the_ticket_page_shows_it(browse, city, png):
    ticket = make_ticket(city, State.IN_PROGRESS)
    client = browse(city.handler)

    response = _resolve(client, ticket, [png])

    assert response.status_code == 302, response.content.decode()[:1000]
    assert Ticket.objects.get(id=ticket.id).state == State.RESOLVED
    photo = Attachment.objects.get(ticket=ticket)
    assert (photo.kind, photo.content_type, photo.uploaded_by) == (Attachment.Kind.REPLY, "image/png", city.handler)
    url = f"{CHANGELIST}{ticket.id}/attachments/{photo.id}/"
    assert f'src="{url}"' in client.get(change_url(ticket)).content.decode()


def test_a_photo_streams_inline_with_its_stored_type_to_who_sees_the_ticket(browse, city, png):
    ticket = make_ticket(city, State.IN_PROGRESS)
    _resolve(browse(city.handler), ticket, [png])
    url = f"{CHANGELIST}{ticket.id}/attachments/{Attachment.objects.get(ticket=ticket).id}/"
    png.seek(0)

    response = browse(city.dispatcher).get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == png.read()
    for outsider in (city.other_handler, city.supervisor, city.outsider):
        assert browse(outsider).get(url).status_code == 404


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_written(browse, city):
    ticket = make_ticket(city, State.IN_PROGRESS)
    before = history(ticket)
    fake = SimpleUploadedFile("invoice.png", b"%PDF-1.4 not a picture", content_type="image/png")

    response = _resolve(browse(city.handler), ticket, [fake])

    assert response.status_code == 400
    page = response.content.decode()
    assert "is not a JPEG, PNG or WebP image" in page
    assert "已更换水表" in page  # the reply typed is kept in the form shown again
    assert not Attachment.objects.filter(ticket=ticket).exists()
    assert Ticket.objects.get(id=ticket.id).state == State.IN_PROGRESS and history(ticket) == before


def test_a_body_over_the_upload_limit_is_refused_before_it_is_read(browse, city, png, settings):
    ticket = make_ticket(city, State.IN_PROGRESS)

    response = _resolve(browse(city.handler), ticket, [png],
                        CONTENT_LENGTH=str(settings.MINHU_MAX_UPLOAD_BYTES + 1))

    assert response.status_code == 413
    assert change_url(ticket) in response.content.decode()
    assert Ticket.objects.get(id=ticket.id).state == State.IN_PROGRESS


def test_other_buttons_keep_the_small_body_limit(browse, city, settings):
    ticket = make_ticket(city, State.DISPATCHED)
    response = browse(city.handler).post(
        action_url(ticket, "claim"), {}, CONTENT_LENGTH=str(settings.MINHU_MAX_BODY_BYTES + 1)
    )
    assert response.status_code == 413
    assert Ticket.objects.get(id=ticket.id).state == State.DISPATCHED
