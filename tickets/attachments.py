"""Photos from citizens and units: checked to be images of a sane size, then stored privately.

The browser's claimed type and the file's name are never trusted: Pillow reads the
content, and only JPEG, PNG and WebP within the size and pixel limits are kept, under a
random name in MEDIA_ROOT (not a public path; the files are served through views that
check who may see the ticket).
"""

from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from PIL import Image, UnidentifiedImageError

from tickets.errors import InvalidInput
from tickets.models import Attachment, Ticket

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# A 40-megapixel photo is the largest a phone takes; beyond it Pillow would be asked to
# decode a decompression bomb.
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class CheckedPhoto:
    upload: UploadedFile
    content_type: str


class PhotosInput(forms.FileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """The chosen files as a list; clean_photos below judges them, not the browser."""

    widget = PhotosInput(attrs={"accept": ",".join(FORMATS.values())})

    def clean(self, data, initial=None) -> list:
        return [upload for upload in (data or []) if upload]


def _error(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, fields={field: [message]})


def _not_an_image(name: str) -> str:
    return _("%(name)s is not a JPEG, PNG or WebP image.") % {"name": name}


def clean_photos(files, *, field: str = "photos") -> list[CheckedPhoto]:
    """Return the uploads checked to be photos; InvalidInput names the first that is not."""
    files = [f for f in files if f is not None]
    limit, most = settings.MINHU_MAX_PHOTO_BYTES, settings.MINHU_MAX_PHOTOS
    if len(files) > most:
        raise _error(ngettext("At most %(count)d photo.", "At most %(count)d photos.", most) % {"count": most}, field)
    checked = []
    for upload in files:
        name = upload.name or "photo"
        if upload.size > limit:
            raise _error(_("%(name)s is larger than %(size)d MB.") % {"name": name, "size": limit // (1024 * 1024)}, field)
        if upload.size == 0:
            raise _error(_("%(name)s is empty.") % {"name": name}, field)
        try:
            upload.seek(0)
            with Image.open(upload) as image:
                kind = image.format
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise _error(_("%(name)s has too many pixels.") % {"name": name}, field)
                image.verify()
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
            raise _error(_not_an_image(name), field) from None
        if kind not in FORMATS:
            raise _error(_not_an_image(name), field)
        upload.seek(0)
        checked.append(CheckedPhoto(upload=upload, content_type=FORMATS[kind]))
    return checked


def attachments_store(*, ticket: Ticket, kind: str, photos: list[CheckedPhoto], actor=None) -> list[Attachment]:
    """Save checked photos with the ticket (inside the caller's transaction)."""
    stored = []
    for photo in photos:
        attachment = Attachment(
            ticket=ticket, kind=kind, content_type=photo.content_type, size=photo.upload.size,
            uploaded_by=actor if actor is not None and actor.is_authenticated else None,
        )
        attachment.file.save("photo", photo.upload, save=False)
        attachment.save()
        stored.append(attachment)
    return stored
