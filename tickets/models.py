"""Tickets, their state machine (design §2) and their append-only event log."""

import datetime as dt
import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.dispatch import receiver
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition
from django_fsm.signals import post_transition

from departments import calendar
from departments.models import Category, DeadlineUnit, Unit
from departments.selectors import staff_scope


class State(models.TextChoices):
    REPORTED = "reported", _("新报 reported")
    ACCEPTED = "accepted", _("已受理 accepted")
    DISPATCHED = "dispatched", _("已派单 dispatched")
    IN_PROGRESS = "in_progress", _("办理中 in progress")
    RESOLVED = "resolved", _("已办结 resolved")
    AWAITING_FEEDBACK = "awaiting_feedback", _("待回访 awaiting feedback")
    CLOSED = "closed", _("已办结归口 closed")
    ARCHIVED = "archived", _("已归档 archived")
    REJECTED = "rejected", _("不予受理 rejected")
    MERGED = "merged", _("已合并 merged")


OPEN_STATES = frozenset(
    {State.REPORTED, State.ACCEPTED, State.DISPATCHED, State.IN_PROGRESS, State.RESOLVED,
     State.AWAITING_FEEDBACK}
)


class Channel(models.TextChoices):
    WEB = "web", _("Web form")
    PHONE = "phone", _("Phone call")
    SMS = "sms", _("SMS")
    WEIBO = "weibo", _("Weibo")
    OPEN311 = "open311", _("Open311")
    STAFF = "staff", _("Staff")


class Rating(models.TextChoices):
    SATISFIED = "satisfied", _("满意 satisfied")
    BASICALLY_SATISFIED = "basically_satisfied", _("基本满意 basically satisfied")
    UNSATISFIED = "unsatisfied", _("不满意 unsatisfied")


class ReturnReason(models.TextChoices):
    WRONG_TERRITORY = "wrong_territory", _("属地不符 wrong territory")
    UNCLEAR_OWNERSHIP = "unclear_ownership", _("权属不清 unclear ownership")
    OVERLAPPING_DUTIES = "overlapping_duties", _("职能交叉 overlapping duties")
    OTHER = "other", _("其他 other")


class Sla(models.TextChoices):
    OK = "ok", _("on time")
    WARNING = "warning", _("yellow card")
    BREACHED = "breached", _("red card")


# The stages whose clocks run in each state; a stage's clock stops when it leaves them.
RUNNING_STAGES: dict[str, tuple[str, ...]] = {
    State.REPORTED: ("accept",),
    State.ACCEPTED: ("accept",),
    State.DISPATCHED: ("claim", "resolve"),
    State.IN_PROGRESS: ("resolve",),
    State.AWAITING_FEEDBACK: ("feedback",),
}
WARNING_FRACTION = 0.8
# The states in which the resolve clock runs: a unit's unfinished work, where the
# overdue report looks.
RESOLVE_RUNNING_STATES = frozenset(state for state, stages in RUNNING_STAGES.items() if "resolve" in stages)

ACCESS_CODE_DIGITS = 8


def _access_code_digest(code: str, salt: str, key: str) -> str:
    return hmac.new(key.encode(), f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def hash_access_code(code: str) -> str:
    """Return the stored form of a citizen's access code.

    A keyed hash rather than a password hasher: intake must stay cheap at hundreds of
    tickets a second, and an 8-digit code hashed without a key would fall to a brute
    force of a leaked table in seconds. The key is SECRET_KEY (fallbacks accepted).
    """
    salt = secrets.token_hex(8)
    return f"h1${salt}${_access_code_digest(code, salt, settings.SECRET_KEY)}"


def new_access_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(ACCESS_CODE_DIGITS))


class Ticket(FSMModelMixin, models.Model):
    """A citizen's request (工单), from report to archive."""

    number = models.CharField(_("number"), max_length=20, unique=True, editable=False)
    state = FSMField(
        _("state"), max_length=20, choices=State.choices, default=State.REPORTED, protected=True
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # No single-column indexes: ticket_category_id and ticket_unit_id lead with these.
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="tickets",
        db_index=False,
    )
    unit = models.ForeignKey(
        Unit, verbose_name=_("unit"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="tickets", db_index=False,
    )
    description = models.TextField(_("description"))
    address = models.CharField(_("address"), max_length=300, blank=True)
    lat = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    lng = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    reporter_name = models.CharField(_("reporter's name"), max_length=50, blank=True)
    reporter_phone = models.CharField(_("reporter's phone"), max_length=20, blank=True)
    access_code_hash = models.CharField(max_length=100, editable=False)

    reported_at = models.DateTimeField(_("reported at"), default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    accept_due_at = models.DateTimeField(_("accept due"), null=True, blank=True)
    accept_warn_at = models.DateTimeField(null=True, blank=True, editable=False)
    claim_due_at = models.DateTimeField(_("claim due"), null=True, blank=True)
    claim_warn_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolve_due_at = models.DateTimeField(_("resolve due"), null=True, blank=True)
    resolve_warn_at = models.DateTimeField(null=True, blank=True, editable=False)
    feedback_due_at = models.DateTimeField(_("feedback due"), null=True, blank=True)
    feedback_warn_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The nearest running deadline and its yellow mark, kept by every transition so
    # the SLA filter and the deadline sweep read one indexed column.
    due_at = models.DateTimeField(null=True, blank=True, editable=False)
    warn_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the deadline sweep must look at this ticket next (its next yellow or red
    # mark); transitions reset it, the sweep advances it.
    next_check_at = models.DateTimeField(null=True, blank=True, editable=False)

    # 补充材料: while the unit waits for the citizen to supply something, the resolve
    # clock stops; the time paused is added to the deadline when the clock restarts.
    paused_at = models.DateTimeField(_("paused since"), null=True, blank=True, editable=False)
    paused_until = models.DateTimeField(_("paused until"), null=True, blank=True, editable=False)
    pause_count = models.PositiveSmallIntegerField(_("pauses"), default=0, editable=False)
    paused_seconds = models.PositiveIntegerField(_("seconds paused"), default=0, editable=False)
    # One step per red card (红牌): how often this ticket missed a deadline.
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0, editable=False)
    # The resolve deadline the sweep listed on the overdue report; NULL when the ticket
    # is not on it. The report reads this column, not the cards: an EXISTS over
    # DeadlineAlert matching the current deadline is estimated at a row or two, and the
    # planner then sorts every late ticket instead of walking an index.
    overdue_listed_due = models.DateTimeField(null=True, blank=True, editable=False)

    is_final_dispatch = models.BooleanField(_("final dispatch (审定)"), default=False)
    reopen_count = models.PositiveIntegerField(_("reopen count"), default=0)
    support_count = models.PositiveIntegerField(_("support count"), default=0)
    return_count = models.PositiveIntegerField(_("return count"), default=0)
    # Indexed where set (ticket_merged_into): almost every ticket has none.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_tickets", db_index=False,
    )
    reply = models.TextField(_("reply"), blank=True)
    rating = models.CharField(_("rating"), max_length=20, choices=Rating.choices, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            # A unit's queue: WHERE unit_id IN (...) ORDER BY id DESC (cursor pages).
            models.Index(fields=["unit", "-id"], name="ticket_unit_id"),
            # The centre's queues by state: WHERE state IN (...) ORDER BY id DESC.
            models.Index(fields=["state", "-id"], name="ticket_state_id"),
            models.Index(fields=["category", "-id"], name="ticket_category_id"),
            # Where returned tickets of a category ended up (tickets.routing.bounces):
            # only the few that were ever returned, newest first.
            models.Index(fields=["category", "-id"], name="ticket_returned_category_id",
                         condition=Q(return_count__gt=0)),
            # Likely duplicates (tickets.duplicates): a category's tickets within days of one.
            models.Index(fields=["category", "reported_at"], name="ticket_category_reported_at"),
            models.Index(fields=["reported_at"], name="ticket_reported_at"),
            models.Index(fields=["merged_into"], name="ticket_merged_into", condition=Q(merged_into__isnull=False)),
            # The caller's earlier tickets, looked up as the operator types the number.
            models.Index(fields=["reporter_phone"], name="ticket_reporter_phone",
                         condition=~Q(reporter_phone="")),
            # SLA filter and deadline sweep: only tickets with a running clock.
            models.Index(fields=["due_at"], name="ticket_due_at", condition=Q(due_at__isnull=False)),
            models.Index(fields=["warn_at"], name="ticket_warn_at", condition=Q(warn_at__isnull=False)),
            # The deadline sweep: WHERE next_check_at <= now, so its cost follows the
            # tickets that are due, not the tickets that exist.
            models.Index(fields=["next_check_at"], name="ticket_next_check_at",
                         condition=Q(next_check_at__isnull=False)),
            # The overdue report in the admin's queue order (due_at first): only the
            # listed tickets, so its first page is read in order, not sorted.
            models.Index(fields=["due_at"], name="ticket_overdue_listed",
                         condition=Q(overdue_listed_due__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(unit__isnull=False) | Q(state__in=["reported", "accepted", "rejected", "merged"])
                | Q(state="archived"),
                name="ticket_unit_when_dispatched",
            ),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=False) | ~Q(state="merged"),
                name="ticket_merged_has_target",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    # -- access code ---------------------------------------------------------------

    def set_access_code(self, code: str) -> None:
        self.access_code_hash = hash_access_code(code)

    def check_access_code(self, code: str) -> bool:
        """Compare in constant time, accepting codes issued under a previous SECRET_KEY."""
        try:
            _version, salt, digest = self.access_code_hash.split("$")
        except ValueError:
            return False
        keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
        matches = [hmac.compare_digest(digest, _access_code_digest(str(code), salt, k)) for k in keys]
        return any(matches)

    # -- deadlines -----------------------------------------------------------------

    def _start_stage(self, stage: str, start: dt.datetime) -> None:
        due = calendar.due_at(start, *self.category.deadline(stage))
        setattr(self, f"{stage}_due_at", due)
        setattr(self, f"{stage}_warn_at", start + (due - start) * WARNING_FRACTION)

    def refresh_sla(self) -> None:
        """Recompute the nearest running deadline from the current state.

        Runs after every transition (post_transition, once django-fsm has set the new
        state) and after any deadline moves outside one.
        """
        # A paused ticket's clock stands still: no running deadline, and the sweep
        # looks at it again only when the pause runs out.
        stages = RUNNING_STAGES.get(self.state, ()) if self.paused_at is None else ()
        dues = [(getattr(self, f"{s}_due_at"), getattr(self, f"{s}_warn_at")) for s in stages]
        dues = [d for d in dues if d[0] is not None]
        self.due_at = min((d[0] for d in dues), default=None)
        self.warn_at = min((d[1] for d in dues), default=None)
        self.next_check_at = self.paused_until if self.paused_at is not None else self.warn_at
        # Listed on the overdue report only while unresolved on the deadline that was
        # listed: a resolve, a return or a new deadline (a re-dispatch, a reopen, an
        # extension, a resume) takes the ticket off it; only the sweep puts it on.
        if self.state not in RESOLVE_RUNNING_STATES or self.resolve_due_at != self.overdue_listed_due:
            self.overdue_listed_due = None

    def start_clock(self) -> None:
        """Start the accept clock of a newly reported ticket."""
        self._start_stage("accept", self.reported_at)
        self.refresh_sla()

    def extend_resolve_deadline(self, until: dt.datetime) -> None:
        start = self.dispatched_at or self.reported_at
        self.resolve_due_at = until
        self.resolve_warn_at = start + (until - start) * WARNING_FRACTION
        self.refresh_sla()

    def end_pause(self, at: dt.datetime) -> None:
        """Restart the resolve clock: the deadline moves on by the time paused.

        An hours deadline moves by the time paused. A working-day deadline moves by the
        working days the pause reached after the day it began (a pause within one day,
        or over a weekend only, moves it by none), and still ends with its day.
        """
        shift = max(at - self.paused_at, dt.timedelta(0))
        due = self.resolve_due_at
        if due is not None and shift:
            if self.category.resolve_unit == DeadlineUnit.WORKING_DAYS:
                zone = calendar.local_zone()
                days = calendar.working_days_between(
                    timezone.localtime(self.paused_at, zone).date(), timezone.localtime(at, zone).date()
                )
                moved = (calendar.due_at(due, days, DeadlineUnit.WORKING_DAYS) - due) if days else dt.timedelta(0)
            else:
                moved = shift
            self.resolve_due_at = due + moved
            self.resolve_warn_at = self.resolve_warn_at + moved if self.resolve_warn_at else None
        self.paused_seconds += int(shift.total_seconds())
        self.paused_at = self.paused_until = None

    @property
    def sla(self) -> str:
        now = timezone.now()
        if self.due_at is not None and now >= self.due_at:
            return Sla.BREACHED
        if self.warn_at is not None and now >= self.warn_at:
            return Sla.WARNING
        return Sla.OK

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    # -- who may do what (each rule sits right above its transition) ----------------

    def can_centre_act(self, user) -> bool:
        return staff_scope(user).is_dispatcher

    def can_unit_act(self, user) -> bool:
        return staff_scope(user).handles(self.unit_id)

    def can_rate(self, user) -> bool:
        # People rate through an operator's return call; citizens rate without an
        # account through a verified channel (their link, their SMS), as the system.
        return staff_scope(user).is_operator

    def can_system_act(self, user) -> bool:
        return False

    def can_resume(self, user) -> bool:
        scope = staff_scope(user)
        return scope.handles(self.unit_id) or scope.is_dispatcher

    # -- the state machine ---------------------------------------------------------

    @transition(field=state, source=State.REPORTED, target=State.ACCEPTED, permission=can_centre_act)
    def accept(self, *, at: dt.datetime) -> None:
        """Accept the report as a valid request (受理)."""
        self.accepted_at = at

    @transition(field=state, source=State.REPORTED, target=State.REJECTED, permission=can_centre_act)
    def reject(self, *, at: dt.datetime) -> None:
        """Refuse the report: spam, out of scope (不予受理)."""
        self.closed_at = at

    @transition(field=state, source=[State.REPORTED, State.ACCEPTED], target=State.MERGED,
                permission=can_centre_act)
    def merge(self, *, into: "Ticket", at: dt.datetime) -> None:
        """Fold this duplicate into `into`, which carries it from now on (合并)."""
        self.merged_into = into
        self.closed_at = at

    @transition(field=state, source=[State.REPORTED, State.ACCEPTED], target=State.DISPATCHED,
                permission=can_centre_act)
    def dispatch(self, *, unit: Unit, final: bool, at: dt.datetime) -> None:
        """Assign the ticket to a handling unit (派单); `final` is the centre's ruling (审定)."""
        self.unit = unit
        self.is_final_dispatch = final
        self.accepted_at = self.accepted_at or at
        self.dispatched_at = at
        self.claimed_at = None
        self._start_stage("claim", at)
        self._start_stage("resolve", at)

    @transition(field=state, source=State.DISPATCHED, target=State.IN_PROGRESS, permission=can_unit_act)
    def claim(self, *, at: dt.datetime) -> None:
        """Sign for the ticket (签收): the unit takes it on."""
        self.claimed_at = at

    @transition(field=state, source=[State.DISPATCHED, State.IN_PROGRESS], target=State.ACCEPTED,
                permission=can_unit_act, conditions=[lambda t: not t.is_final_dispatch])
    def return_to_centre(self, *, at: dt.datetime) -> None:
        """Send the ticket back to the centre for another unit (退单); the accept clock restarts."""
        self.unit = None
        self.return_count += 1
        self.claimed_at = None
        self.paused_at = self.paused_until = None  # the next unit's clocks start afresh,
        self.pause_count = 0  # and its pauses too
        self._start_stage("accept", at)

    @transition(field=state, source=State.IN_PROGRESS, target=State.IN_PROGRESS, permission=can_unit_act)
    def request_extension(self) -> None:
        """Ask the centre for a later resolve deadline (延期申请); the deadline moves on approval."""

    @transition(field=state, source=State.IN_PROGRESS, target=State.IN_PROGRESS, permission=can_unit_act,
                conditions=[lambda t: t.paused_at is None])
    def pause(self, *, at: dt.datetime, until: dt.datetime) -> None:
        """Stop the resolve clock while the citizen supplies material (补充材料), until `until` at most."""
        self.paused_at, self.paused_until = at, until
        self.pause_count += 1

    @transition(field=state, source=State.IN_PROGRESS, target=State.IN_PROGRESS, permission=can_resume,
                conditions=[lambda t: t.paused_at is not None])
    def resume(self, *, at: dt.datetime) -> None:
        """Restart the resolve clock: the material came, or the pause ran out."""
        self.end_pause(at)

    @transition(field=state, source=State.IN_PROGRESS, target=State.RESOLVED, permission=can_unit_act)
    def resolve(self, *, reply: str, at: dt.datetime) -> None:
        """Submit the unit's reply (办结) for the centre to verify."""
        if self.paused_at is not None:
            self.end_pause(at)  # the paused time counts for the unit, should it be sent back
        self.reply = reply
        self.resolved_at = at

    @transition(field=state, source=State.RESOLVED, target=State.AWAITING_FEEDBACK,
                permission=can_centre_act)
    def verify(self, *, at: dt.datetime) -> None:
        """Accept the unit's reply (核查通过); the citizen's rating clock starts."""
        self.verified_at = at
        self._start_stage("feedback", at)

    @transition(field=state, source=State.RESOLVED, target=State.IN_PROGRESS, permission=can_centre_act)
    def send_back(self, *, at: dt.datetime) -> None:
        """Refuse the unit's reply (核查不通过): the unit works on against its running deadline."""
        self.resolved_at = None

    @transition(field=state, source=State.AWAITING_FEEDBACK,
                target=RETURN_VALUE(State.CLOSED, State.DISPATCHED), permission=can_rate)
    def rate(self, *, rating: str, at: dt.datetime) -> str:
        """Record the citizen's rating (回访); "unsatisfied" reopens it to the same unit (重办)."""
        self.rating = rating
        if rating != Rating.UNSATISFIED:
            self.closed_at = at
            return State.CLOSED
        self.reopen_count += 1
        self.dispatched_at = at
        self.claimed_at = self.resolved_at = self.verified_at = None
        self._start_stage("claim", at)
        self._start_stage("resolve", at)
        return State.DISPATCHED

    @transition(field=state, source=State.AWAITING_FEEDBACK, target=State.CLOSED,
                permission=can_system_act)
    def expire_feedback(self, *, at: dt.datetime) -> None:
        """Close the ticket with no rating when the feedback window has passed."""
        self.closed_at = at

    @transition(field=state, source=[State.CLOSED, State.REJECTED, State.MERGED],
                target=State.ARCHIVED, permission=can_centre_act)
    def archive(self, *, at: dt.datetime) -> None:
        """File the ticket for good (归档): read-only from now on."""
        self.archived_at = at


@receiver(post_transition, sender=Ticket)
def _ticket_transitioned(sender, instance: Ticket, **kwargs) -> None:
    # The one place SLA fields follow the state: each transition sets its stage
    # clocks, and this derives the running deadline from the state it reached.
    instance.refresh_sla()


class ExtensionRequest(models.Model):
    """A unit's request for a later resolve deadline (延期申请), decided by the centre."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        REFUSED = "refused", _("refused")
        WITHDRAWN = "withdrawn", _("withdrawn (the unit no longer holds the ticket)")

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="extension_requests")
    until = models.DateTimeField(_("requested deadline"))
    reason = models.TextField(_("reason"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("extension request")
        verbose_name_plural = _("extension requests")
        constraints = [
            # One open request per ticket: a second must wait for the first decision.
            models.UniqueConstraint(
                fields=["ticket"], condition=Q(status="pending"), name="extension_one_pending"
            ),
        ]


class AlertLevel(models.TextChoices):
    # xgettext:no-python-format
    YELLOW = "yellow", _("黄牌 yellow card (80 % of the time used)")
    RED = "red", _("红牌 red card (deadline missed)")
    URGE = "urge", _("催办 urging (the day after a missed resolve deadline)")
    OVERDUE = "overdue", _("listed as overdue (5 working days past the resolve deadline)")


class DeadlineAlert(models.Model):
    """A yellow or red card raised for one run of one stage's clock, at most once.

    The run is identified by its deadline and its yellow mark: an approved extension
    moves the deadline, and a re-dispatch moves the mark even when a working-day
    deadline lands on the same end of day; either gives the right to new cards.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="deadline_alerts")
    stage = models.CharField(max_length=10)
    level = models.CharField(max_length=10, choices=AlertLevel.choices)
    due_at = models.DateTimeField()
    warn_at = models.DateTimeField()
    raised_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("deadline alert")
        verbose_name_plural = _("deadline alerts")
        constraints = [
            # Exactly once, even with two sweeps racing: the database decides.
            models.UniqueConstraint(
                fields=["ticket", "stage", "level", "due_at", "warn_at"], name="deadline_alert_once"
            ),
        ]


class TicketEvent(models.Model):
    """One line of a ticket's history: every transition, warning and notice (append-only)."""

    # Indexed with the id (ticketevent_ticket_id), which serves the ticket's lookups too.
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="events", db_index=False)
    kind = models.CharField(_("kind"), max_length=30)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    # Whether the citizen may see this line (tracking page, Open311 updates).
    is_public = models.BooleanField(default=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        indexes = [
            # A ticket's history in order, and replay after a last-seen id.
            models.Index(fields=["ticket", "id"], name="ticketevent_ticket_id"),
            # Open311 updates (servicerequestupdates): the public lines of a time window, in order.
            models.Index(fields=["at", "id"], name="ticketevent_public_at", condition=Q(is_public=True)),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("Ticket events are append-only.")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Ticket events are append-only.")

    @classmethod
    def record(cls, ticket: Ticket, kind: str, from_state: str = "", *, actor=None,
               unit: Unit | None = None, note: str = "", payload: dict | None = None,
               is_public: bool = True, at: dt.datetime | None = None) -> "TicketEvent":
        """Append one event for the ticket in its current state; it is broadcast after the commit."""
        from tickets import broadcast

        event = cls.new(ticket, kind, from_state, actor=actor, unit=unit, note=note, payload=payload,
                        is_public=is_public, at=at)
        event.save(force_insert=True)
        broadcast.announce([event])
        return event

    @classmethod
    def new(cls, ticket: Ticket, kind: str, from_state: str = "", *, actor=None, unit: Unit | None = None,
            note: str = "", payload: dict | None = None, is_public: bool = True, at: dt.datetime | None = None,
            id: int | None = None) -> "TicketEvent":
        """Return the unsaved event `record` writes (for a writer that inserts it with other rows)."""
        return cls(
            id=id, ticket=ticket, kind=kind, from_state=from_state, to_state=ticket.state,
            actor=actor if actor is not None and actor.is_authenticated else None,
            unit=unit, note=note, payload=payload or {}, is_public=is_public,
            at=at or timezone.now(),
        )


class Notification(models.Model):
    """One message to one address through one channel: what reached whom, and when.

    Rows are written in the transaction that caused them (a card, a transition), so
    a message is never lost with a rolled-back change nor sent for one; a task sends
    them after the commit, and a periodic catch-up resends what no task delivered
    (the broker was down, a worker died).
    """

    class Kind(models.TextChoices):
        ACKNOWLEDGEMENT = "acknowledgement", _("receipt to the citizen")
        CLAIM_REMINDER = "claim_reminder", _("reminder to sign for a ticket (签收)")
        WARNING = "warning", _("yellow card (黄牌)")
        ESCALATION = "escalation", _("red card escalation (红牌)")
        URGING = "urging", _("urging notice (催办)")
        EXTENSION = "extension", _("extension granted (延期)")
        PAUSE = "pause", _("material requested from the citizen (补充材料)")
        RESULT = "result", _("the verified reply and the rating request to the citizen")

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("email")
        # A comment under the citizen's Weibo post; the address is the post's mid.
        WEIBO = "weibo", _("Weibo comment")

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting to be sent")
        SENDING = "sending", _("being sent")
        RETRYING = "retrying", _("failed, to be retried")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed for good")
        SKIPPED = "skipped", _("no address to send to")

    # Indexed with the id (notification_ticket_id), which serves the ticket's lookups too.
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="notifications", db_index=False)
    event = models.ForeignKey(TicketEvent, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # A unit's liaison, or (no unit) the citizen who reported the ticket.
    # Indexed where set (notification_recipient_unit): a citizen's notices have none.
    recipient_unit = models.ForeignKey(
        Unit, verbose_name=_("recipient unit"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", db_index=False,
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=254, blank=True)
    body = models.TextField(_("message"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    # When the row may next be claimed by a sender: now for a new row, after the
    # backoff for a failed one, after the lease for one being sent.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            # The catch-up: WHERE status IN (outstanding) AND next_attempt_at <= now.
            models.Index(fields=["next_attempt_at"], name="notification_outstanding",
                         condition=Q(status__in=["pending", "sending", "retrying"])),
            models.Index(fields=["ticket", "id"], name="notification_ticket_id"),
            models.Index(fields=["recipient_unit"], name="notification_recipient_unit",
                         condition=Q(recipient_unit__isnull=False)),
        ]
        constraints = [
            # One event tells one address once, however often the code that writes it runs.
            models.UniqueConstraint(fields=["event", "channel", "address"], name="notification_once",
                                    condition=~Q(address="")),
            # A unit with no contact on file is recorded once per event, each unit its own row.
            models.UniqueConstraint(fields=["event", "channel", "recipient_unit"],
                                    name="notification_unreachable_once", condition=Q(address="")),
        ]

    def __str__(self) -> str:
        # No address here: the admin shows this in titles and breadcrumbs to unit staff.
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display()})"


def _attachment_path(instance: "Attachment", filename: str) -> str:
    # Never the citizen's file name: a random name under the ticket's month, with the
    # extension of the type the content was checked to be.
    return f"attachments/{timezone.localtime():%Y/%m}/{secrets.token_hex(16)}.{instance.extension}"


class Attachment(models.Model):
    """A photo sent with a report or with a unit's reply; stored outside the static path.

    Files are served only through a view that checks who may see the ticket, never by
    the web server from MEDIA_ROOT.
    """

    class Kind(models.TextChoices):
        REPORT = "report", _("photo with the report")
        REPLY = "reply", _("photo with the unit's reply")

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="attachments")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    file = models.FileField(_("file"), upload_to=_attachment_path, max_length=200)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        indexes = [models.Index(fields=["ticket", "id"], name="attachment_ticket_id")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def extension(self) -> str:
        return {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}.get(self.content_type, "bin")


class PersonalDataAccess(models.Model):
    """A member of unit staff revealed a citizen's masked name and phone: who, which ticket, when."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        indexes = [models.Index(fields=["ticket", "at"], name="pdaccess_ticket_at")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.ticket_id} {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("The access log is append-only.")
        return super().save(*args, **kwargs)


class InboundMessage(models.Model):
    """One message a machine channel delivered (an SMS, a Weibo post), kept as it came.

    The raw body stays with the ticket it opened, rated or supported, so nothing the
    citizen said is lost when the way it is read changes later. The database makes
    each (channel, external id) arrive once: a gateway that delivers a message again,
    or ten times at once, is answered with the same ticket.
    """

    class Outcome(models.TextChoices):
        OPENED = "opened", _("opened the ticket")
        RATED = "rated", _("rated the ticket (a survey reply)")
        SUPPORTED = "supported", _("added support to the ticket (a repost)")

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # The channel's own id of the message: the SMS gateway's message_id, Weibo's mid.
    external_id = models.CharField(_("message id"), max_length=100)
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.PROTECT, related_name="inbound_messages",
        db_index=False,
    )
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    # The phone number of an SMS, the Weibo user's id.
    sender = models.CharField(_("sender"), max_length=100)
    sender_name = models.CharField(_("sender's name"), max_length=100, blank=True)
    # The Weibo post a repost spreads (its own mid for an original post): reposts of
    # one post support the one ticket that post opened.
    thread = models.CharField(_("thread"), max_length=100, blank=True)
    text = models.TextField(_("text"), blank=True)
    pictures = models.JSONField(_("pictures"), default=list, blank=True)
    raw = models.TextField(_("body as received"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        indexes = [
            # A ticket's messages in order (the ticket page).
            models.Index(fields=["ticket", "id"], name="inbound_ticket_id"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="inbound_once"),
            # One ticket per Weibo post, however many reposts of it race in: the repost
            # lookup reads this index too.
            models.UniqueConstraint(fields=["channel", "thread"], name="inbound_thread_opened_once",
                                    condition=Q(outcome="opened") & ~Q(thread="")),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.external_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("Inbound messages are kept as they came.")
        return super().save(*args, **kwargs)


class Supporter(models.Model):
    """A citizen who raised an open ticket's problem again (a Weibo repost), once per ticket."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="supporters", db_index=False)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # The Weibo user's id, or a phone number.
    identity = models.CharField(_("identity"), max_length=100)
    name = models.CharField(_("name"), max_length=100, blank=True)
    message = models.ForeignKey(
        InboundMessage, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("supporter")
        verbose_name_plural = _("supporters")
        constraints = [
            # support_count counts people, not reposts: one row per person and ticket.
            models.UniqueConstraint(fields=["ticket", "channel", "identity"], name="supporter_once"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.channel} {self.identity}"


def hash_open311_key(key: str) -> str:
    """Return the stored form of an Open311 API key.

    A plain SHA-256 is enough: the key is 32 random bytes, beyond any brute force, and
    an unkeyed hash keeps every key valid when SECRET_KEY is rotated.
    """
    return hashlib.sha256(key.encode()).hexdigest()


class Open311Key(models.Model):
    """The API key of one Open311 client (a FixMyStreet install, a city app): stored hashed.

    A revoked key stays, so the requests it sent still name their client. The client's
    name is what its requests carry (InboundMessage.sender): a new key under the name of
    a revoked one keeps seeing the private fields of the client's earlier requests.
    """

    name = models.CharField(_("client"), max_length=100)
    # The key's first characters, enough to tell keys apart in the admin and the logs.
    prefix = models.CharField(_("key starts with"), max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("Open311 API key")
        verbose_name_plural = _("Open311 API keys")
        constraints = [
            # One working key per client: its requests are known by the client's name.
            models.UniqueConstraint(
                fields=["name"], condition=Q(revoked_at__isnull=True), name="open311_key_one_active_per_name",
                violation_error_message=_("This client already has a working key; revoke it first."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
