"""What each ticket event counts in the statistics: a fold over a ticket's history.

A fact is counted on the local day of the event that decides it, for the unit it is
about and the ticket's category at that moment; the district is that unit's district.
Reading a ticket's events in order, each one may add facts:

- report, reject, merge: REPORTED, REJECTED, MERGED, for the centre (no unit);
- dispatch: RECEIVED by the unit; a round of handling starts (its claim and resolve
  clocks), and so does a reopen (重办), for the same unit, without counting RECEIVED;
- the round's claim stage is decided once, by the first of: the claim (CLAIMED_ON_TIME
  when signed for by its deadline, else CLAIMED_LATE) or the claim deadline's red card
  (CLAIMED_LATE); a round returned unclaimed before its deadline is not judged;
- the round's resolve stage likewise, by the first of: the verify of the unit's reply
  (RESOLVED_ON_TIME when that reply was submitted by the resolve deadline in force
  then, else RESOLVED_LATE) or the resolve deadline's red card (RESOLVED_LATE); a reply
  sent back (SENT_BACK) does not decide it; a round returned before either is not judged;
- verify also counts HANDLED, with the seconds from the round's start to the accepted
  reply, and at the ticket's first verify KEPT, with the returns (退单) before it;
- return: RETURNED by the unit that gave the ticket back;
- rate: SATISFIED or BASICALLY_SATISFIED, and CLOSED; reopen (an "unsatisfied"):
  REOPENED; expire_feedback: EXPIRED and CLOSED. CLOSED carries the reopens before it.

Everything a fact needs is in the ticket's events up to it: its value never changes
when later events arrive, so the rollups only ever add. Deadlines come from the claim
and resolve events' payloads; events written without them (before this module, or by
the data generator) take the ticket's own deadline columns, which are right for a
ticket handled in one round.
"""

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from django.utils import timezone

from feedback.models import BUCKET_HOURS, NO_UNIT, Measure


def bucket_of(seconds: int) -> int:
    """Return the handling-time bucket of a duration."""
    hours = seconds / 3600
    for index, bound in enumerate(BUCKET_HOURS):
        if hours <= bound:
            return index
    return len(BUCKET_HOURS)


# The keys of an event's payload that the fold reads (a reader may fetch only these).
PAYLOAD_KEYS = ("category", "previous_category", "claim_due_at", "resolve_due_at", "stage", "rating")


@dataclass(frozen=True)
class EventRow:
    """The parts of a TicketEvent (and of its ticket, now) that the fold reads."""

    id: int
    ticket_id: int
    kind: str
    unit_id: int | None
    payload: dict
    at: dt.datetime


@dataclass(frozen=True)
class TicketNow:
    """The ticket's columns the fold falls back on for events that carry no payload."""

    category_id: int
    claim_due_at: dt.datetime | None
    resolve_due_at: dt.datetime | None
    rating: str


@dataclass(frozen=True)
class Fact:
    event_id: int
    ticket_id: int
    day: dt.date
    unit_id: int
    category_id: int
    district_id: int
    measure: int
    value: int = 0


@dataclass
class _Round:
    unit_id: int
    started_at: dt.datetime
    claim_decided: bool = False
    resolve_decided: bool = False
    replied_at: dt.datetime | None = None
    reply_due_at: dt.datetime | None = None


@dataclass
class _Fold:
    category_id: int
    unit_id: int = NO_UNIT
    round: _Round | None = None
    returns: int = 0
    reopens: int = 0
    is_kept: bool = False
    facts: list[Fact] = field(default_factory=list)


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _on_time(at: dt.datetime, due: dt.datetime | None) -> bool:
    return due is None or at <= due


def first_category(events: list[EventRow], now: TicketNow, categories: Mapping[str, int]) -> int:
    """Return the ticket's category when it was reported.

    A dispatch that sorts the ticket into another category says so in its payload
    (`previous_category`); the first such dispatch names the category it came with.
    """
    for event in events:
        if event.kind == "dispatch" and event.payload.get("previous_category"):
            return categories.get(event.payload["previous_category"], now.category_id)
    return now.category_id


def ticket_facts(events: list[EventRow], now: TicketNow, *, categories: Mapping[str, int],
                 districts: Mapping[int, int]) -> list[Fact]:
    """Return every fact of one ticket's history (its events in id order)."""
    state = _Fold(category_id=first_category(events, now, categories))
    zone = timezone.get_current_timezone()

    def count(event: EventRow, measure: Measure, *, unit_id: int | None = None, value: int = 0) -> None:
        unit = state.unit_id if unit_id is None else unit_id
        state.facts.append(Fact(
            event_id=event.id, ticket_id=event.ticket_id, day=timezone.localtime(event.at, zone).date(),
            unit_id=unit, category_id=state.category_id, district_id=districts.get(unit, NO_UNIT),
            measure=measure, value=value,
        ))

    for event in events:
        _step(state, event, now, categories, count)
    return state.facts


def _step(state: _Fold, event: EventRow, now: TicketNow, categories: Mapping[str, int], count) -> None:
    kind, payload, current = event.kind, event.payload, state.round
    if kind == "report":
        count(event, Measure.REPORTED, unit_id=NO_UNIT)
    elif kind == "reject":
        count(event, Measure.REJECTED, unit_id=NO_UNIT)
    elif kind == "merge":
        count(event, Measure.MERGED, unit_id=NO_UNIT)
    elif kind == "dispatch":
        if payload.get("category"):
            state.category_id = categories.get(payload["category"], state.category_id)
        state.unit_id = event.unit_id or NO_UNIT
        state.round = _Round(unit_id=state.unit_id, started_at=event.at)
        count(event, Measure.RECEIVED)
    elif kind == "reopen":
        state.reopens += 1
        count(event, Measure.REOPENED)
        state.round = _Round(unit_id=state.unit_id, started_at=event.at)
    elif current is None:
        _after_round(state, event, now, count)
    elif kind == "claim":
        if not current.claim_decided:
            current.claim_decided = True
            due = _time(payload.get("claim_due_at")) or now.claim_due_at
            count(event, Measure.CLAIMED_ON_TIME if _on_time(event.at, due) else Measure.CLAIMED_LATE)
    elif kind == "warning_red" and payload.get("stage") in ("claim", "resolve"):
        decided = "claim_decided" if payload["stage"] == "claim" else "resolve_decided"
        if not getattr(current, decided):
            setattr(current, decided, True)
            count(event, Measure.CLAIMED_LATE if payload["stage"] == "claim" else Measure.RESOLVED_LATE)
    elif kind == "return":
        state.returns += 1
        count(event, Measure.RETURNED)
        state.unit_id, state.round = NO_UNIT, None
    elif kind == "resolve":
        current.replied_at = event.at
        current.reply_due_at = _time(payload.get("resolve_due_at")) or now.resolve_due_at
    elif kind == "send_back":
        count(event, Measure.SENT_BACK)
    elif kind == "verify":
        _verified(state, current, event, count)
    else:
        _after_round(state, event, now, count)


def _verified(state: _Fold, current: _Round, event: EventRow, count) -> None:
    replied_at = current.replied_at or event.at
    if not current.resolve_decided:
        current.resolve_decided = True
        on_time = _on_time(replied_at, current.reply_due_at)
        count(event, Measure.RESOLVED_ON_TIME if on_time else Measure.RESOLVED_LATE)
    count(event, Measure.HANDLED, value=max(int((replied_at - current.started_at).total_seconds()), 0))
    if not state.is_kept:
        state.is_kept = True
        count(event, Measure.KEPT, value=state.returns)


def _after_round(state: _Fold, event: EventRow, now: TicketNow, count) -> None:
    """The citizen's verdict on a verified reply: a rating, or the window passing without one."""
    if event.kind == "rate":
        rating = event.payload.get("rating") or now.rating
        measure = Measure.BASICALLY_SATISFIED if rating == "basically_satisfied" else Measure.SATISFIED
        count(event, measure)
        count(event, Measure.CLOSED, value=state.reopens)
    elif event.kind == "expire_feedback":
        count(event, Measure.EXPIRED)
        count(event, Measure.CLOSED, value=state.reopens)


def facts_of(rows: Iterable[tuple[EventRow, TicketNow]], *, categories: Mapping[str, int],
             districts: Mapping[int, int]) -> Iterator[Fact]:
    """Return the facts of the tickets whose events `rows` holds, grouped by ticket in id order."""
    events: list[EventRow] = []
    now: TicketNow | None = None
    for event, ticket in rows:
        if events and event.ticket_id != events[0].ticket_id:
            yield from ticket_facts(events, now, categories=categories, districts=districts)
            events = []
        events.append(event)
        now = ticket
    if events:
        yield from ticket_facts(events, now, categories=categories, districts=districts)
