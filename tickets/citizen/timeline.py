"""The words a citizen reads for a ticket's state and for each line of its history.

Staff vocabulary (签收, 退单, 审定) means little to the person who reported a pothole:
each state and event gets a plain sentence here, in English source text translated
like every other string.
"""

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext, gettext_lazy as _

from tickets.models import Rating, State
from tickets.selectors import PublicEvent

STATE_WORDS = {
    State.REPORTED: _("Received: waiting for the hotline centre to accept it"),
    State.ACCEPTED: _("Accepted: being assigned to the unit in charge"),
    State.DISPATCHED: _("Sent to the unit in charge"),
    State.IN_PROGRESS: _("Being handled by the unit in charge"),
    State.RESOLVED: _("The unit has replied; the hotline centre is checking the reply"),
    State.AWAITING_FEEDBACK: _("Handled: waiting for your rating"),
    State.CLOSED: _("Closed"),
    State.ARCHIVED: _("Closed and archived"),
    State.REJECTED: _("Not accepted"),
    State.MERGED: _("Merged into an earlier report of the same problem"),
}

# Every kind a transition may write, public or not: what is not public never reaches
# the page (tickets.selectors.ticket_public_events), but should a kind become public
# it already reads well.
EVENT_WORDS = {
    "report": _("Report received"),
    "support": _("Another citizen raised the same problem"),
    "accept": _("Accepted by the hotline centre"),
    "reject": _("Not accepted"),
    "merge": _("Merged into an earlier report of the same problem, which is handled instead"),
    "dispatch": _("Sent to %(unit)s"),
    "claim": _("%(unit)s took it on"),
    "return": _("Being re-assigned to another unit"),
    "pause": _("Material requested from you"),
    "resume": _("Handling resumed"),
    "extension_approved": _("Deadline extended"),
    "resolve": _("The unit replied"),
    "verify": _("The hotline centre checked the unit's reply"),
    "send_back": _("The reply was sent back to the unit for more work"),
    "rate": _("Rated: %(rating)s"),
    "reopen": _("Rated unsatisfied: the unit handles it again"),
    "expire_feedback": _("Closed without a rating"),
    "archive": _("Archived"),
    # Not a transition: the citizen's own update, sent through an Open311 client.
    "comment": _("Comment added"),
}

RATING_WORDS = {
    Rating.SATISFIED: _("satisfied"),
    Rating.BASICALLY_SATISFIED: _("basically satisfied"),
    Rating.UNSATISFIED: _("unsatisfied"),
}


@dataclass(frozen=True)
class Line:
    at: dt.datetime
    text: str
    detail: str
    until: dt.datetime | None


def state_words(state: str) -> str:
    return str(STATE_WORDS.get(state, state))


def describe(event: PublicEvent) -> Line:
    """Return the sentence a citizen reads for one public event."""
    words = EVENT_WORDS.get(event.kind, _("Updated"))
    text = str(words) % {
        "unit": event.unit_name or gettext("the unit in charge"),
        "rating": RATING_WORDS.get(event.rating, event.rating),
    }
    return Line(at=event.at, text=text, detail=event.note, until=event.until)

