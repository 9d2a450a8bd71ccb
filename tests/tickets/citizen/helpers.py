"""Helpers for the citizen pages' tests."""

import io
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def photo(name: str = "photo.png", size: tuple[int, int] = (8, 8), kind: str = "PNG") -> SimpleUploadedFile:
    """Return a real image as an upload."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, kind)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{kind.lower()}")


def csrf_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def text_of(page: str) -> str:
    """Return the page without tokens that differ between two renderings."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)
