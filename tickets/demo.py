"""Two weeks of a working hotline for the demo: a few hundred tickets in every state.

Each ticket lives its life through tickets.services, acted on by the demo staff, in
the order a hotline would have lived it: reported by phone, web, SMS, Weibo, Open311
or at a counter, accepted or rejected or merged, dispatched (mostly where its category
routes it, sometimes to the wrong unit, which returns it), signed for, paused for the
citizen's material, extended, resolved, sent back, verified, rated, reopened,
archived. The services read the time from django.utils.timezone.now, as every entry
point does; the replay sets that clock to each moment in turn and runs the deadline
sweep every ten minutes of it, as beat does every 30 s. So deadlines follow the
working calendar, cards and urgings are raised when they came due, and every history
replays to its ticket's state, by construction.

The notices these lives write are recorded but never sent: the demo's citizens and
phone numbers are made up, and a configured SMS gateway must not reach anyone.
"""

import datetime as dt
import heapq
import itertools
import logging
import random
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.utils import timezone

from departments import calendar
from departments.models import Category, DeadlineUnit, Role, Routing, Unit, UnitKind
from departments.services import staff_upsert
from tickets import demo_data as text
from tickets import services
from tickets.errors import TicketError
from tickets.models import (
    OPEN_STATES,
    Channel,
    Notification,
    Rating,
    State,
    Ticket,
    hash_access_code,
)
from tickets.sla import feedback_expiry_sweep, sla_sweep

logger = logging.getLogger(__name__)

DEMO_TICKETS = 300
SEED = 12345
HISTORY = dt.timedelta(days=14)
SWEEP_EVERY = dt.timedelta(minutes=10)  # beat sweeps every 30 s; cards minutes late will do
EXPIRY_EVERY = dt.timedelta(hours=1)

# The demo staff who hold a unit's queue in README's "Demo logins"; other units get a
# duty handler of their own (no usable password) to act in the histories.
UNIT_STAFF = {"water-group": "handler", "wuchang-zhongnan": "handler2"}


@dataclass(frozen=True)
class Story:
    """A kind of ticket life: how many of the 300, how old, and its steps after the report.

    `clock`: the stage whose deadline most of these tickets still have ahead of them
    (their age is kept within it); the others are as old as `age_hours` says, cards and all.
    """

    name: str
    share: int
    age_hours: tuple[float, float]
    steps: tuple[str, ...]
    clock: str = ""


_WORK = ("accept", "dispatch", "claim")
_DONE = (*_WORK, "resolve", "verify")
STORIES = [
    Story("reported", 10, (0, 1.5), ()),
    Story("reported, accept deadline missed", 3, (3, 10), ()),
    Story("accepted", 6, (0.5, 6), ("accept",)),
    Story("accepted after a return", 4, (10, 60), ("accept", "dispatch_wrong", "return")),
    Story("rejected", 12, (0, 330), ("reject",)),
    Story("merged", 9, (0, 330), ("merge",)),
    Story("dispatched", 16, (0.5, 20), ("accept", "dispatch"), clock="claim"),
    Story("dispatched, claim deadline missed", 4, (12, 72), ("accept", "dispatch")),
    Story("reopened", 4, (96, 300), (*_DONE, "rate_unsatisfied")),
    Story("in progress", 32, (6, 200), _WORK, clock="resolve"),
    Story("in progress, overdue", 8, (120, 330), _WORK),
    Story("in progress, paused", 7, (24, 150), (*_WORK, "pause_now"), clock="resolve"),
    Story("in progress, resumed after a pause", 3, (72, 250), (*_WORK, "pause", "resume"),
          clock="resolve"),
    Story("in progress, extension requested", 6, (24, 200), (*_WORK, "extend"), clock="resolve"),
    Story("in progress, extension approved", 4, (48, 250), (*_WORK, "extend", "approve"),
          clock="resolve"),
    Story("in progress, sent back", 3, (48, 250), (*_WORK, "resolve", "send_back"),
          clock="resolve"),
    Story("in progress after a return", 4, (24, 200),
          ("accept", "dispatch_wrong", "return", "dispatch_final", "claim"), clock="resolve"),
    Story("in progress, reopened", 3, (120, 320), (*_DONE, "rate_unsatisfied", "claim")),
    Story("resolved", 18, (12, 200), (*_WORK, "resolve")),
    Story("awaiting feedback", 18, (24, 200), (*_WORK, "resolve", "verify_recent")),
    Story("closed", 60, (48, 336), (*_DONE, "rate")),
    Story("closed after a return", 5, (72, 336),
          ("accept", "dispatch_wrong", "return", "dispatch_final", "claim", "resolve", "verify",
           "rate")),
    Story("closed after a send back", 4, (96, 336),
          (*_WORK, "resolve", "send_back", "resolve", "verify", "rate")),
    Story("closed after a reopen", 5, (150, 336),
          (*_DONE, "rate_unsatisfied", "claim", "resolve", "verify", "rate")),
    Story("closed without a rating", 7, (220, 336), _DONE),
    Story("archived", 38, (150, 336), (*_DONE, "rate", "archive")),
    Story("rejected, archived", 4, (100, 336), ("reject", "archive")),
    Story("merged, archived", 3, (100, 336), ("merge", "archive")),
]

CHANNELS = [(Channel.PHONE, 45), (Channel.WEB, 18), (Channel.SMS, 10), (Channel.WEIBO, 7),
            (Channel.OPEN311, 5), (Channel.STAFF, 15)]


def seed_demo_tickets(*, count: int = DEMO_TICKETS, seed: int = SEED, access_code: str | None = None) -> int:
    """Replay two weeks of a hotline into a database that has no tickets; return how many.

    A database holding any ticket is left alone, so running it again adds nothing. With
    `access_code`, every demo ticket takes that code instead of its own random one.
    """
    if Ticket.objects.exists():
        return 0
    with transaction.atomic():
        replay = _Replay(random.Random(seed), end=timezone.now(), access_code=access_code)
        with _services_clock(replay.start) as clock:
            ids = replay.run(clock, count)
        # The catch-up of the seconds the replay took, as the next beat would do.
        sla_sweep()
        Notification.objects.filter(ticket_id__in=ids, status=Notification.Status.PENDING).update(
            status=Notification.Status.SKIPPED, next_attempt_at=None,
            last_error="Demo data: never sent.",
        )
    return len(ids)


def demo_tracking_example(access_code: str) -> Ticket | None:
    """A ticket in progress that `access_code` opens, to show on the tracking page."""
    for ticket in Ticket.objects.filter(state=State.IN_PROGRESS).order_by("-id")[:20]:
        if ticket.check_access_code(access_code):
            return ticket
    return None


class _Clock:
    """What timezone.now() returns while the replay runs: the moment being replayed."""

    def __init__(self, at: dt.datetime):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@contextmanager
def _services_clock(at: dt.datetime) -> Iterator[_Clock]:
    """Set the clock the services read (django.utils.timezone.now) for the replay.

    The services take no time argument on purpose: every entry point acts now. The
    replay is the one caller that acts in the past, in a one-off command with no
    other thread at work, so it moves the clock rather than the services growing one.
    """
    clock = _Clock(at)
    real, timezone.now = timezone.now, clock
    try:
        yield clock
    finally:
        timezone.now = real


@dataclass
class _Plan:
    """One ticket's life decided in advance: who reports what, where, to which unit.

    Each life draws from its own generator, so what one ticket does never depends on
    the order the replay happens to interleave it with the others.
    """

    story: Story
    rng: random.Random
    reported_at: dt.datetime
    category: Category
    channel: str
    unit: Unit
    wrong_unit: Unit
    return_reason: str
    address: str
    lat: float | None
    lng: float | None
    name: str
    phone: str
    description: str

    @property
    def by_staff(self) -> bool:
        """Entered by an operator (a call, a counter), who also makes the return call."""
        return self.channel in (Channel.PHONE, Channel.STAFF)


Act = Callable[[], Ticket]


class _Replay:
    def __init__(self, rng: random.Random, *, end: dt.datetime, access_code: str | None = None):
        from django.contrib.auth import get_user_model

        self.rng = rng
        self.end = end
        self.access_code = access_code
        self.start = end - HISTORY - dt.timedelta(days=1)
        User = get_user_model()
        self.operator = User.objects.get(username="operator")
        self.dispatcher = User.objects.get(username="dispatcher")
        self.units = {u.code: u for u in Unit.objects.filter(is_active=True)}
        by_id = {u.id: u for u in self.units.values()}
        self.categories = list(
            Category.objects.filter(is_active=True, parent__isnull=False, children__isnull=True)
            .select_related("default_unit").order_by("code")
        )
        self.streets: dict[str, list[Unit]] = {}
        for unit in sorted(self.units.values(), key=lambda u: u.code):
            if unit.kind == UnitKind.STREET and unit.parent_id in by_id:
                self.streets.setdefault(by_id[unit.parent_id].code, []).append(unit)
        self.bureaus = sorted(
            (u for u in self.units.values() if u.kind in (UnitKind.BUREAU, UnitKind.UTILITY)),
            key=lambda u: u.code,
        )
        self.handlers: dict[int, object] = {}
        self.targets: dict[int, int] = {}  # a duplicate's ticket id -> the ticket it repeats
        self.ids: list[int] = []

    # -- the schedule ------------------------------------------------------------

    def run(self, clock: _Clock, count: int) -> list[int]:
        """Play every life and the periodic sweeps in time order; return the ticket ids."""
        order = itertools.count()
        queue: list = []
        for plan in sorted(self._plans(count), key=lambda p: p.reported_at):
            life = self._life(plan)
            when, act = next(life)
            heapq.heappush(queue, (when, next(order), act, life, plan.story.name))
        next_sweep = next_expiry = self.start
        while queue:
            when, _n, act, life, story = heapq.heappop(queue)
            next_sweep, next_expiry = self._sweeps(clock, when, next_sweep, next_expiry)
            clock.at = when
            try:
                ticket = act()
            except TicketError as error:  # a life the calendar made impossible stops here
                logger.info("A demo ticket (%s) stopped before its end: %s", story, error)
                continue
            try:
                when, act = life.send(ticket)
            except StopIteration:
                continue
            heapq.heappush(queue, (max(when, clock.at), next(order), act, life, story))
        self._sweeps(clock, self.end, next_sweep, next_expiry)
        clock.at = self.end
        return self.ids

    def _sweeps(self, clock: _Clock, until: dt.datetime, next_sweep: dt.datetime,
                next_expiry: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """Run the periodic jobs that came due by `until`; return when each runs next."""
        while min(next_sweep, next_expiry) <= until:
            if next_sweep <= next_expiry:
                clock.at = next_sweep
                sla_sweep(now=next_sweep)
                next_sweep += SWEEP_EVERY
            else:
                clock.at = next_expiry
                feedback_expiry_sweep(now=next_expiry)
                next_expiry += EXPIRY_EVERY
        return next_sweep, next_expiry

    # -- one life ----------------------------------------------------------------

    def _life(self, plan: _Plan) -> Generator[tuple[dt.datetime, Act], Ticket, None]:
        """Yield (when, act) for each step; receive the ticket as each act left it."""
        ticket = yield plan.reported_at, lambda: self._report(plan)
        for step in plan.story.steps:
            at = self._when(step, ticket, plan.rng)
            at = self._fit(self._daytime(step, at, ticket, plan.rng), ticket, plan.rng)
            ticket = yield at, partial(self._act, step, ticket.id, plan)

    def _when(self, step: str, t: Ticket, r: random.Random) -> dt.datetime:
        """When the step happens, judged from the ticket as it stands (clocks, last change)."""
        now = t.updated_at
        late = r.random() < 0.15  # some steps come late: the sweep raises their cards

        def within(due: dt.datetime | None, low: float, high: float,
                   cap: dt.timedelta | None = None) -> dt.datetime:
            # A moment a fraction of the way from now to `due`, at most `cap` from now.
            span = (due - now) if due else dt.timedelta(hours=4)
            return now + (min(span, cap) if cap else span) * r.uniform(low, high)

        def minutes(low: float, high: float) -> dt.timedelta:
            return dt.timedelta(minutes=r.uniform(low, high))

        if step == "accept":
            return within(t.accept_due_at, 0.05, 0.4)
        if step in ("dispatch", "dispatch_wrong", "reject", "merge"):  # while the accept clock runs
            return within(t.accept_due_at, 0.1, 1.2 if late else 0.7)
        if step == "dispatch_final":  # after a return, the accept clock started again
            return within(t.accept_due_at, 0.2, 0.9)
        if step == "claim":
            return within(t.claim_due_at, 0.1, 1.5 if late else 0.7)
        if step == "return":
            return within(t.claim_due_at, 0.2, 0.6)
        if step == "resolve":
            cap = dt.timedelta(days=r.uniform(0.3, 3))
            return within(t.resolve_due_at, 0.2, 1.3 if late else 0.8, cap)
        if step in ("pause", "pause_now", "extend"):  # both only before the resolve deadline
            return within(t.resolve_due_at, 0.1, 0.5, dt.timedelta(days=3))
        if step == "resume":  # before the sweep ends the pause itself
            return within(t.paused_until, 0.2, 0.8)
        if step in ("rate", "rate_unsatisfied"):  # before the rating window closes
            return within(t.feedback_due_at, 0.05, 0.6)
        if step == "verify_recent":  # the rating window still open at the end
            return max(now + minutes(20, 60), self.end - minutes(120, 1080))
        if step == "archive":
            return now + dt.timedelta(days=r.uniform(1, 4))
        if step == "approve":
            return now + minutes(60, 360)
        return now + minutes(5, 300)  # the centre's other decisions

    def _daytime(self, step: str, at: dt.datetime, ticket: Ticket, r: random.Random) -> dt.datetime:
        """Move to the morning what citizens, and units on working-day deadlines, do at night.

        The centre, and units on deadlines counted in hours (water, gas, power), work
        round the clock.
        """
        local = timezone.localtime(at)
        stage = {"claim": "claim", "return": "claim", "resolve": "resolve"}.get(step)
        by_night = step in ("rate", "rate_unsatisfied") or (
            stage is not None and ticket.category.deadline(stage)[1] == DeadlineUnit.WORKING_DAYS
        )
        if not by_night or local.hour >= 7:
            return at
        return local.replace(hour=7, minute=30) + dt.timedelta(minutes=r.uniform(0, 90))

    def _fit(self, planned: dt.datetime, ticket: Ticket, r: random.Random) -> dt.datetime:
        """Keep every step after the ticket's last change and before the end of the replay."""
        now = ticket.updated_at
        if planned < self.end:
            return max(planned, now + dt.timedelta(minutes=1))
        return now + (self.end - now) * r.uniform(0.2, 0.9)

    # -- acts: each one service call by the demo staff ---------------------------

    def _report(self, plan: _Plan) -> Ticket:
        ticket, _code = services.ticket_create(
            category=plan.category, description=plan.description, channel=plan.channel,
            actor=self.operator if plan.by_staff else None, address=plan.address,
            lat=plan.lat, lng=plan.lng, reporter_name=plan.name, reporter_phone=plan.phone,
            reported_at=plan.reported_at,
        )
        if self.access_code is not None:
            # Given at the report, as a ticket archived later is read-only down to the database.
            Ticket.objects.filter(id=ticket.id).update(access_code_hash=hash_access_code(self.access_code))
        self.ids.append(ticket.id)
        if plan.story.steps[:1] == ("merge",):
            target = self._open_ticket(plan, exclude=ticket.id)
            if target is not None:
                self.targets[ticket.id] = target
        return ticket

    def _open_ticket(self, plan: _Plan, *, exclude: int) -> int | None:
        """An open ticket this one may repeat: of the same category if there is one."""
        open_ = Ticket.objects.filter(state__in=OPEN_STATES).exclude(id=exclude).order_by("-id")
        same = list(open_.filter(category=plan.category).values_list("id", flat=True)[:5])
        return plan.rng.choice(same) if same else open_.values_list("id", flat=True).first()

    def _act(self, step: str, ticket_id: int, plan: _Plan) -> Ticket:
        r, centre, kw = plan.rng, self.dispatcher, {"ticket_id": ticket_id}
        if step == "accept":
            return services.ticket_accept(**kw, actor=centre)
        if step == "reject":
            return services.ticket_reject(**kw, actor=centre, reason=r.choice(text.REJECT_REASONS))
        if step == "merge":
            into = self.targets.get(ticket_id)
            if into is None or not Ticket.objects.filter(id=into, state__in=OPEN_STATES).exists():
                into = self._open_ticket(plan, exclude=ticket_id)
            return services.ticket_merge(**kw, into_id=into, actor=centre)
        if step in ("dispatch", "dispatch_final"):
            final = step == "dispatch_final" and r.random() < 0.5  # 审定 after a return
            return services.ticket_dispatch(**kw, unit=plan.unit, actor=centre, final=final)
        if step == "dispatch_wrong":
            return services.ticket_dispatch(**kw, unit=plan.wrong_unit, actor=centre)
        if step in ("verify", "verify_recent"):
            return services.ticket_verify(**kw, actor=centre)
        if step == "send_back":
            reason = r.choice(text.SEND_BACK_REASONS)
            return services.ticket_send_back(**kw, actor=centre, reason=reason)
        if step == "approve":
            return services.ticket_decide_extension(**kw, actor=centre, approve=True)
        if step == "archive":
            return services.ticket_archive(**kw, actor=centre)
        if step in ("rate", "rate_unsatisfied"):
            # A citizen who called is called back by an operator; the others rate by link or SMS.
            citizen = self.operator if plan.by_staff else None
            if step == "rate_unsatisfied":
                rating, comment = Rating.UNSATISFIED, r.choice(text.UNSATISFIED_COMMENTS)
            else:
                rating = Rating.SATISFIED if r.random() < 0.75 else Rating.BASICALLY_SATISFIED
                comment = r.choice(text.SATISFIED_COMMENTS)
            return services.ticket_rate(**kw, actor=citizen, rating=rating, comment=comment)
        return self._unit_act(step, ticket_id, plan)

    def _unit_act(self, step: str, ticket_id: int, plan: _Plan) -> Ticket:
        r, kw = plan.rng, {"ticket_id": ticket_id}
        ticket = Ticket.objects.select_related("unit", "category").get(id=ticket_id)
        handler = self._handler(ticket.unit)
        if step == "claim":
            return services.ticket_claim(**kw, actor=handler)
        if step == "return":
            reason = plan.return_reason
            return services.ticket_return(**kw, actor=handler, reason=reason,
                                          comment=text.RETURN_COMMENTS[reason])
        if step == "resolve":
            return services.ticket_resolve(**kw, actor=handler, reply=r.choice(text.REPLIES))
        if step in ("pause", "pause_now"):
            now, days = timezone.now(), r.uniform(2, 5)
            if step == "pause_now":  # still waiting for the citizen when the replay ends
                days = max(days, (self.end - now) / dt.timedelta(days=1) + r.uniform(1, 4))
            until = now + dt.timedelta(days=min(days, 14))
            return services.ticket_pause(**kw, actor=handler, reason=r.choice(text.PAUSE_REASONS),
                                         until=until)
        if step == "resume":
            return services.ticket_resume(**kw, actor=handler, note="市民已补充材料")
        if step == "extend":
            current = ticket.resolve_due_at
            latest = calendar.due_at(current, *ticket.category.deadline("extension"))
            return services.ticket_request_extension(
                **kw, actor=handler, until=current + (latest - current) * r.uniform(0.3, 1),
                reason=r.choice(text.EXTENSION_REASONS),
            )
        raise ValueError(f"unknown step {step!r}")

    def _handler(self, unit: Unit):
        """The demo login of the unit's queue, or the unit's duty handler (no usable password)."""
        if unit.id not in self.handlers:
            username = UNIT_STAFF.get(unit.code, f"duty-{unit.code}")
            self.handlers[unit.id] = staff_upsert(username=username, unit=unit, role=Role.HANDLER)
        return self.handlers[unit.id]

    # -- who reports what, where ----------------------------------------------------

    def _plans(self, count: int) -> Iterator[_Plan]:
        total = sum(s.share for s in STORIES)
        index = itertools.count()
        for story in STORIES:
            for _ in range(max(1, round(count * story.share / total))):
                yield self._plan(story, random.Random(f"{self.rng.random()}-{next(index)}"))

    def _plan(self, story: Story, life: random.Random) -> _Plan:
        r = self.rng
        category = self._category()
        age = dt.timedelta(hours=r.uniform(*story.age_hours))
        if story.clock and r.random() < 0.85:
            amount, unit = category.deadline(story.clock)
            days = amount / 24 if unit == DeadlineUnit.HOURS else amount * 1.4
            age = min(age, dt.timedelta(days=days * r.uniform(0.3, 0.9), hours=1))
        reported_at = self.end - age
        local = timezone.localtime(reported_at)
        if age > dt.timedelta(days=1) and local.hour < 7:  # few call at night
            reported_at -= dt.timedelta(hours=local.hour + r.uniform(1, 4))

        district = self._district()
        street = r.choice(self.streets[district])
        if district == "wuchang" and r.random() < 0.4:
            street = self.units["wuchang-zhongnan"]
        if category.routing == Routing.FUNCTIONAL and category.default_unit_id:
            unit = category.default_unit
            wrong = r.choice([b for b in self.bureaus if b.id != unit.id])
            reason = "overlapping_duties"
        else:
            unit = street if r.random() < 0.8 else self.units[district]
            other = r.choice([code for code in self.streets if code != district])
            wrong, reason = r.choice(self.streets[other]), "wrong_territory"

        channel = r.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0]
        lat0, lng0, roads, estates = text.DISTRICT_PLACES.get(district, text.CITY_PLACE)
        place = f"{self.units[district].name}{r.choice(roads)}"
        if r.random() < 0.4:
            address = f"{place}{r.choice(estates)}{r.randint(1, 30)}栋"
        else:
            address = f"{place}{r.randint(1, 388)}号"
        located = channel in (Channel.WEB, Channel.WEIBO, Channel.OPEN311)
        lat = round(lat0 + r.uniform(-0.02, 0.02), 6) if located else None
        lng = round(lng0 + r.uniform(-0.02, 0.02), 6) if located else None
        name, phone = self._reporter(channel)
        phrase = r.choice(text.CATEGORY_PHRASES.get(category.code, text.GENERIC_PHRASES))
        where = "" if r.random() < 0.3 else f"{address}附近，"
        description = f"{text.PREFIXES[channel]}{where}{phrase}{r.choice(text.TAILS)}"
        return _Plan(story, life, reported_at, category, channel, unit, wrong, reason, address,
                     lat, lng, name, phone, description)

    def _category(self) -> Category:
        # The water group's and Wuchang's queues are the demo logins' own: keep them busy.
        weights = [
            4 if c.default_unit and c.default_unit.code == "water-group"
            else 2 if c.routing == Routing.TERRITORIAL else 1
            for c in self.categories
        ]
        return self.rng.choices(self.categories, weights=weights)[0]

    def _district(self) -> str:
        codes = sorted(self.streets)
        central = ("jiangan", "jianghan", "hongshan")
        weights = [8 if code == "wuchang" else 3 if code in central else 1 for code in codes]
        return self.rng.choices(codes, weights=weights)[0]

    def _reporter(self, channel: str) -> tuple[str, str]:
        """A made-up name and mobile number, as each channel brings them."""
        r = self.rng
        name = f"{r.choice(text.SURNAMES)}{r.choice(['先生', '女士'])}"
        # From the demo's own small block beside the liaisons' (1990000xxxx), never a
        # number picked across the real range: a demo notice must not reach a stranger.
        phone = f"1990001{r.randint(0, 999):04d}"
        if channel in (Channel.PHONE, Channel.STAFF):
            return name, phone
        if channel == Channel.SMS:
            return "", phone
        if channel == Channel.WEIBO:
            return f"{r.choice(text.WEIBO_NAMES)}{r.randint(10, 9999)}", ""
        if channel == Channel.WEB:
            return (name, phone) if r.random() < 0.7 else ("", phone)
        return name, ""
