from django import forms
from django.utils.translation import gettext_lazy as _

from departments.selectors import report_categories
from tickets.validation import MAX_ADDRESS, MAX_DESCRIPTION, MAX_NAME


def category_choices() -> list:
    """Return the report categories as grouped <select> choices, leaves under their parents."""
    return [("", "---------")] + [
        (group, [(c.code, c.name) for c in categories]) for group, categories in report_categories()
    ]


class CallForm(forms.Form):
    """A call taken for a citizen (channel phone): the fields in the order they are asked."""

    phone = forms.CharField(
        label=_("Caller's phone"), max_length=30,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "autofocus": True,
                                      "inputmode": "tel"}),
    )
    category = forms.ChoiceField(label=_("Category"))
    description = forms.CharField(
        label=_("What happened"), max_length=MAX_DESCRIPTION, widget=forms.Textarea(attrs={"rows": 4}),
    )
    address = forms.CharField(label=_("Where"), max_length=MAX_ADDRESS, required=False)
    name = forms.CharField(label=_("Caller's name"), max_length=MAX_NAME, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices()
