"""The citizen's rating of a ticket (回访): one-time links, tickets reopened too often, and the
statistics' rollups (三率) that follow the event log.

A round of rating starts each time the centre verifies a reply: the citizen may rate
it once, through the link sent to them, an SMS answer, or an operator's return call.
An "unsatisfied" sends the ticket back to its unit (重办), and a later verify starts
the next round.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RatingVia(models.TextChoices):
    """How a rating reached the hotline (the `via` of its rate or reopen event)."""

    SMS = "sms", _("an SMS answer to the survey")
    LINK = "link", _("the rating page (one-time link)")
    PHONE = "phone", _("an operator's return call (回访)")


class RatingLink(models.Model):
    """The link that lets the citizen rate one round of a ticket without an account.

    Only a hash of the token is kept. The token itself is a keyed hash of `seed` under
    SECRET_KEY (feedback.links), made again when the message is sent: whoever reads
    this table or the stored notices holds no link that works. A link works once, until
    the round's rating window closes, and only while its round is the ticket's current
    one.
    """

    ticket = models.ForeignKey(
        "tickets.Ticket", verbose_name=_("ticket"), on_delete=models.PROTECT, related_name="rating_links",
        db_index=False,  # rating_link_once leads with the ticket
    )
    # The verify that opened the round: its result notice carries this link.
    event = models.OneToOneField("tickets.TicketEvent", on_delete=models.PROTECT, related_name="+")
    round = models.PositiveSmallIntegerField(_("round"))
    seed = models.CharField(max_length=32, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("rating link")
        verbose_name_plural = _("rating links")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "round"], name="rating_link_once"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} #{self.round}"


class ReopenFlag(models.Model):
    """A ticket reopened MINHU_REOPEN_FLAG_COUNT times or more: the centre looks into it.

    Kept apart from the tickets so the desk reads a few rows, not the tickets table, to
    list the flagged tickets that are still open.
    """

    ticket = models.OneToOneField(
        "tickets.Ticket", verbose_name=_("ticket"), on_delete=models.PROTECT, related_name="reopen_flag"
    )
    flagged_at = models.DateTimeField(_("flagged at"), default=timezone.now)

    class Meta:
        verbose_name = _("ticket reopened repeatedly")
        verbose_name_plural = _("tickets reopened repeatedly")
        indexes = [
            # The dispatch desk: the newest flags first, until it has a screenful of open tickets.
            models.Index(fields=["-flagged_at"], name="reopen_flag_flagged_at"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.flagged_at:%Y-%m-%d %H:%M}"


# -- statistics (三率) ------------------------------------------------------------------
#
# Figures come from rollups kept up to date by feedback.stats.rollup, which reads the
# event log after the fact (a Celery beat task), never from the tickets table per
# request and never inside a transition's transaction. See feedback.stats.facts for
# what each event counts.

# The "no unit" of a fact about the centre's own work (a report, a rejection, a merge).
NO_UNIT = 0
# The "any" member of a rollup key: a row that sums its unit's (or category's, or the
# city's) facts over the whole other dimension, so a figure for the city, a unit or a
# category reads one row a day or a month instead of thousands.
ANY = -1


class Measure(models.IntegerChoices):
    """What one fact counts (feedback.stats.facts decides which event counts what)."""

    REPORTED = 1, _("reported")
    REJECTED = 2, _("rejected")
    MERGED = 3, _("merged")
    RECEIVED = 4, _("received by the unit")
    CLAIMED_ON_TIME = 5, _("signed for in time")
    CLAIMED_LATE = 6, _("signed for late, or not by the deadline")
    RESOLVED_ON_TIME = 7, _("replied in time")
    RESOLVED_LATE = 8, _("replied late, or not by the deadline")
    HANDLED = 9, _("reply accepted (handling time)")
    RETURNED = 10, _("returned by the unit")
    KEPT = 11, _("kept by the unit")
    SENT_BACK = 12, _("reply sent back by the centre")
    SATISFIED = 13, _("rated satisfied")
    BASICALLY_SATISFIED = 14, _("rated basically satisfied")
    REOPENED = 15, _("rated unsatisfied (reopened)")
    EXPIRED = 16, _("closed without a rating")
    CLOSED = 17, _("closed")


class Grain(models.TextChoices):
    DAY = "day", _("day")
    MONTH = "month", _("month")


class StatsCursor(models.Model):
    """How far the rollups have read the event log: one row.

    Event ids are taken when an event is written but become visible when its
    transaction commits, so a later id can be seen before an earlier one. Every id
    at or below `last_event_id` has been counted, except `gaps`: ids skipped while
    their transaction may still have been open ({id: unix time first missed}), looked
    for again at every run and given up after feedback.stats.rollup.GAP_SECONDS (a
    transaction rolled back leaves its id unused for good).
    """

    last_event_id = models.BigIntegerField(default=0)
    gaps = models.JSONField(default=dict, blank=True)
    # Every change committed before this moment is in the figures (the freshness shown
    # on the pages); NULL until the first run.
    fresh_at = models.DateTimeField(_("figures as of"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("statistics cursor")
        verbose_name_plural = _("statistics cursor")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="stats_cursor_single_row")]


class StatsFact(models.Model):
    """One counted fact: the ticket behind one unit of one figure (the drill-down's source).

    Append-only, written with the rollups it adds to. `ticket_id` carries no foreign
    key: the check would lock each ticket's row (FOR KEY SHARE) against the transitions
    that lock it for update, and tickets are never deleted.
    """

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    event_id = models.BigIntegerField()
    day = models.DateField()
    unit_id = models.IntegerField()
    category_id = models.IntegerField()
    district_id = models.IntegerField()
    measure = models.PositiveSmallIntegerField(choices=Measure.choices)
    # Handling seconds for HANDLED; returns before it for KEPT; reopens before it for CLOSED.
    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("statistics fact")
        verbose_name_plural = _("statistics facts")
        indexes = [
            # Drill-down for the city or a category: WHERE measure = m AND day BETWEEN a AND b
            # ORDER BY day DESC, id DESC.
            models.Index(fields=["measure", "-day", "-id"], name="stats_fact_measure_day"),
            # Drill-down for a unit or a subtree: WHERE unit_id IN (...) AND measure = m AND day ...
            models.Index(fields=["unit_id", "measure", "-day"], name="stats_fact_unit_measure_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.get_measure_display()} #{self.ticket_id}"


# Upper bounds of the handling-time buckets, in hours; the last bucket has none.
BUCKET_HOURS = (1, 2, 4, 8, 12, 24, 36, 48, 72, 96, 120, 168, 240, 360, 720)
# A rollup row's histogram of handling times (the p90's source), one counter a bucket:
# replies accepted after at most 1 hour, after more than 1 and at most 2, ... and after
# more than 720 hours. Kept in the row itself, a table's p90 reads no rows beyond its sums.
HANDLED_BUCKETS = (*(f"handled_upto_{hours}h" for hours in BUCKET_HOURS), f"handled_over_{BUCKET_HOURS[-1]}h")

# The counters of a rollup row, in the order of its columns. Each is a sum of facts
# (feedback.stats.rollup.COUNTED says which measure adds to which counter).
COUNTERS = (
    "reported", "rejected", "merged", "received",
    "claimed_on_time", "claimed_late", "resolved_on_time", "resolved_late",
    "handled", "handling_seconds", "returned", "kept", "bounces", "kept_bounced", "sent_back",
    "satisfied", "basically_satisfied", "reopened", "expired", "closed", "closed_reopened",
    *HANDLED_BUCKETS,
)


class RollupKey(models.Model):
    """The key of a rollup row: a day or a month, a unit and a category (either may be ANY)."""

    grain = models.CharField(max_length=5, choices=Grain.choices)
    start = models.DateField()
    unit_id = models.IntegerField()
    category_id = models.IntegerField()
    # The unit's district (NO_UNIT for a unit outside any district, ANY in unit-ANY rows).
    district_id = models.IntegerField()

    class Meta:
        abstract = True


class StatsRollup(RollupKey):
    """The facts of one day or month, for one unit and category, summed.

    Keyed by grain × start × unit × category (the district follows from the unit); each
    fact also counts in the rows of its unit across categories (category ANY), of its
    category across units (unit ANY) and of the city (both ANY), in both grains, so a
    period reads whole months plus its edge days, and only the rows its question needs.
    """

    reported = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    merged = models.BigIntegerField(default=0)
    received = models.BigIntegerField(default=0)
    claimed_on_time = models.BigIntegerField(default=0)
    claimed_late = models.BigIntegerField(default=0)
    resolved_on_time = models.BigIntegerField(default=0)
    resolved_late = models.BigIntegerField(default=0)
    handled = models.BigIntegerField(default=0)
    handling_seconds = models.BigIntegerField(default=0)
    returned = models.BigIntegerField(default=0)
    kept = models.BigIntegerField(default=0)
    bounces = models.BigIntegerField(default=0)
    kept_bounced = models.BigIntegerField(default=0)
    sent_back = models.BigIntegerField(default=0)
    satisfied = models.BigIntegerField(default=0)
    basically_satisfied = models.BigIntegerField(default=0)
    reopened = models.BigIntegerField(default=0)
    expired = models.BigIntegerField(default=0)
    closed = models.BigIntegerField(default=0)
    closed_reopened = models.BigIntegerField(default=0)
    # The histogram of handling times (HANDLED_BUCKETS).
    handled_upto_1h = models.BigIntegerField(default=0)
    handled_upto_2h = models.BigIntegerField(default=0)
    handled_upto_4h = models.BigIntegerField(default=0)
    handled_upto_8h = models.BigIntegerField(default=0)
    handled_upto_12h = models.BigIntegerField(default=0)
    handled_upto_24h = models.BigIntegerField(default=0)
    handled_upto_36h = models.BigIntegerField(default=0)
    handled_upto_48h = models.BigIntegerField(default=0)
    handled_upto_72h = models.BigIntegerField(default=0)
    handled_upto_96h = models.BigIntegerField(default=0)
    handled_upto_120h = models.BigIntegerField(default=0)
    handled_upto_168h = models.BigIntegerField(default=0)
    handled_upto_240h = models.BigIntegerField(default=0)
    handled_upto_360h = models.BigIntegerField(default=0)
    handled_upto_720h = models.BigIntegerField(default=0)
    handled_over_720h = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("statistics rollup")
        verbose_name_plural = _("statistics rollups")
        constraints = [
            # The upsert's conflict target; its index also serves the reads of units crossed
            # with categories: WHERE grain = g AND start BETWEEN a AND b AND unit_id IN (...)
            models.UniqueConstraint(fields=["grain", "start", "unit_id", "category_id"], name="stats_rollup_key"),
        ]
        indexes = [
            # By unit or district across categories: WHERE grain = g AND category_id = ANY
            # AND start BETWEEN a AND b (without it, every category's row of the days is read).
            models.Index(fields=["grain", "category_id", "start", "unit_id"], name="stats_rollup_units"),
            # The city, or by category, across units: WHERE grain = g AND unit_id = ANY AND start ...
            models.Index(fields=["grain", "unit_id", "start", "category_id"], name="stats_rollup_categories"),
        ]
