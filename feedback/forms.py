"""The rating forms: the citizen's page and the operator's return call.

They shape the input only; `tickets.services.ticket_rate` decides whether the rating
counts, and its errors come back onto these forms.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from tickets.models import Rating
from tickets.validation import MAX_NOTE

# The citizen's words for the three answers; staff read the bilingual labels of Rating.
CITIZEN_CHOICES = [
    (Rating.SATISFIED, _("Satisfied")),
    (Rating.BASICALLY_SATISFIED, _("Basically satisfied")),
    (Rating.UNSATISFIED, _("Unsatisfied: the problem is not solved")),
]


class RatingForm(forms.Form):
    """The citizen's rating: one tap on an answer, one on the button; the comment is optional."""

    rating = forms.ChoiceField(label=_("How satisfied are you with the result?"), choices=CITIZEN_CHOICES,
                               widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("Anything to add?"), required=False, max_length=MAX_NOTE,
        help_text=_("Optional. If the problem is not solved, say what is still wrong: the unit reads it."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CallRatingForm(forms.Form):
    """The rating a citizen gives an operator on a return call (回访)."""

    rating = forms.ChoiceField(label=_("Rating given by the citizen"), choices=Rating.choices,
                               widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("What the citizen said"), required=False, max_length=MAX_NOTE,
        help_text=_("When the citizen is unsatisfied, write what is still wrong: "
                    "the unit handles the ticket again with these words."),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )
