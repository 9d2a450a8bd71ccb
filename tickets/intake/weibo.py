"""Weibo posts to the hotline's account (`POST /intake/weibo/`), as the relay delivers them.

An original post opens a ticket. A repost spreads a post: when that post already has
a ticket, the reposter is counted as a supporter of it (`support_count`, once per
person) instead of opening another; a repost of a post with no ticket yet opens one,
and later reposts of the same post support that ticket. The post's pictures stay on
the ticket as links; the post itself is kept as it came.
"""

from django.utils.translation import gettext as _

from tickets import services
from tickets.intake import common
from tickets.intake.common import Received
from tickets.models import Channel, InboundMessage
from tickets.validation import MAX_NAME, clean_coordinate, clean_web_address, field_error

Outcome = InboundMessage.Outcome

MAX_PICTURES = 18  # Weibo's own limit per post
MAX_PICTURE_URL = 500


def _user(payload: dict) -> tuple[str, str]:
    user = payload.get("user")
    if user is None:
        raise field_error("user", _("This field is required."))
    if not isinstance(user, dict):
        raise field_error("user", _("Must be an object with id and screen_name."))
    user_id = common.message_id({"user.id": user.get("id")}, "user.id")
    name = common.string(user, "screen_name", max_length=100, required=False, label="user.screen_name")
    return user_id, name


def _geo(payload: dict) -> tuple[object, object]:
    geo = payload.get("geo")
    if geo is None:
        return None, None
    if not isinstance(geo, dict):
        raise field_error("geo", _("Must be an object with lat and lng, or null."))
    lat = clean_coordinate(geo.get("lat"), field="geo.lat", limit=90)
    lng = clean_coordinate(geo.get("lng"), field="geo.lng", limit=180)
    if lat is None or lng is None:
        raise field_error("geo", _("Give both lat and lng, or null."))
    return lat, lng


def _pictures(payload: dict) -> list[str]:
    pictures = payload.get("pics")
    if pictures is None:
        return []
    if not isinstance(pictures, list):
        raise field_error("pics", _("Must be a list of picture addresses."))
    if len(pictures) > MAX_PICTURES:
        raise field_error("pics", _("At most %(count)d pictures.") % {"count": MAX_PICTURES})
    return [clean_web_address(url, field="pics", max_length=MAX_PICTURE_URL) for url in pictures]


def weibo_receive(*, payload: dict, raw: str) -> Received:
    """Take one post: support the ticket of the post it reposts, or open a ticket."""
    mid = common.message_id(payload, "mid")
    user_id, screen_name = _user(payload)
    repost_of = payload.get("repost_of")
    if repost_of is not None:
        repost_of = common.message_id(payload, "repost_of")
    # A repost may say nothing of its own; an original post must say something.
    text = common.string(payload, "text", max_length=common.MAX_TEXT, required=repost_of is None)
    sent_at = common.timestamp(payload, "created_at")
    lat, lng = _geo(payload)
    pictures = _pictures(payload)
    thread = repost_of or mid
    kept = {"channel": Channel.WEIBO, "external_id": mid, "sender": user_id, "sender_name": screen_name,
            "thread": thread, "raw": raw, "text": text, "pictures": pictures, "sent_at": sent_at}

    def handle() -> Received:
        common.lock(common.LOCK_THREAD, f"weibo:{thread}")
        opener = InboundMessage.objects.filter(
            channel=Channel.WEIBO, thread=thread, outcome=Outcome.OPENED).first()
        if opener is not None:
            # A repost supports the post's ticket, or the ticket that carries it after a merge.
            ticket, _counted = services.ticket_support(
                ticket_id=opener.ticket_id, channel=Channel.WEIBO, identity=user_id, name=screen_name,
                message=common.message(outcome=Outcome.SUPPORTED, **kept),
            )
            return Received(ticket, Outcome.SUPPORTED, False)
        description = common.description_of(text) or _(
            "A repost of Weibo post %(mid)s, whose own text has not arrived."
        ) % {"mid": repost_of}
        category, suggestion = common.sort_text(text)
        ticket, _code = services.ticket_create(
            category=category, description=description, channel=Channel.WEIBO,
            reporter_name=screen_name.strip()[:MAX_NAME], lat=lat, lng=lng,
            message=common.message(outcome=Outcome.OPENED, **kept),
        )
        return Received(services.ticket_dispatch_directly(ticket=ticket, suggestion=suggestion), Outcome.OPENED, True)

    return common.receive(channel=Channel.WEIBO, external_id=mid, handle=handle)
