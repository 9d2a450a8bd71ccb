"""The one-time rating link in the citizen's result notice (回访).

The link is opened with the notice, in the verify's transaction, and its token is made
only when the notice goes out: the stored notice carries the rating page's address
without a token (like the tracking link, signed at send time), and the link keeps a
hash of the token. A notice sent again after a failure carries the same token, so
the citizen's first message still works.
"""

import base64
import hashlib
import hmac
import secrets

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import salted_hmac

from feedback.models import RatingLink

_SALT = "minhu.rating-link"
# 144 bits: beyond guessing, and 24 characters in an SMS.
_TOKEN_BYTES = 18
MAX_TOKEN_LENGTH = 100


def rating_page_link(number: str) -> str:
    """Return the rating page's address without its token, as the stored notice carries it."""
    return settings.MINHU_PUBLIC_URL + reverse("feedback:rate-incomplete", args=[number])


def hash_token(token: str) -> str:
    # Unkeyed on purpose: the token is random to 144 bits, and the stored hashes stay
    # valid when SECRET_KEY is rotated after the link went out.
    return hashlib.sha256(token.encode()).hexdigest()


def _token(link: RatingLink, key: str) -> str:
    digest = salted_hmac(_SALT, f"{link.ticket_id}:{link.round}:{link.seed}", secret=key, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:_TOKEN_BYTES]).decode()


def rating_link_create(*, ticket, event) -> RatingLink:
    """Open the rating link of the round the verify `event` starts (in its transaction).

    The link works until the round's rating window (the feedback deadline) closes.
    """
    link = RatingLink(
        ticket=ticket, event=event, round=ticket.reopen_count + 1, seed=secrets.token_hex(16),
        created_at=event.at, expires_at=ticket.feedback_due_at,
    )
    link.token_hash = hash_token(_token(link, settings.SECRET_KEY))
    link.save(force_insert=True)
    return link


def link_token(link: RatingLink) -> str | None:
    """Return the link's token, made again now; None when no key of this site makes it.

    A key rotated between the verify and the sending is still among the fallbacks.
    """
    for key in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        token = _token(link, key)
        if hmac.compare_digest(hash_token(token), link.token_hash):
            return token
    return None


def with_rating_token(text: str, *, event_id: int, number: str) -> str:
    """Return a result notice's text with its rating link completed by the token."""
    plain = rating_page_link(number)
    if plain not in text:
        return text  # a merged reporter's notice: told the result, not asked to rate
    link = RatingLink.objects.filter(event_id=event_id).first()
    token = link_token(link) if link is not None else None
    if token is None:
        return text
    return text.replace(plain, f"{plain}{token}/", 1)
