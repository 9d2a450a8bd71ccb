"""The citizen's rating of a ticket (回访): one-time links, and tickets reopened too often.

A round of rating starts each time the centre verifies a reply: the citizen may rate
it once, through the link sent to them, an SMS answer, or an operator's return call.
An "unsatisfied" sends the ticket back to its unit (重办), and a later verify starts
the next round.
"""

from django.db import models
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
