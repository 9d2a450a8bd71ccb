from django import forms
from django.utils.translation import gettext_lazy as _

from departments.selectors import report_categories
from tickets.validation import MAX_ADDRESS, MAX_DESCRIPTION, MAX_NAME


class CategoryField(forms.ChoiceField):
    """A report category (an active leaf), offered grouped under its parent, cleaned to the Category."""

    def __init__(self, *, blank=_("Choose a category"), **kwargs):
        super().__init__(**kwargs)
        self.blank = blank
        self.by_code = {}

    def load(self) -> None:
        """Read the categories for one form (fields are copied per form, so per request)."""
        groups = report_categories()
        self.by_code = {c.code: c for _group, categories in groups for c in categories}
        self.choices = [("", self.blank)] + [
            (group, [(c.code, c.name) for c in categories]) for group, categories in groups
        ]

    def clean(self, value):
        code = super().clean(value)
        return self.by_code[code] if code else None


class CallForm(forms.Form):
    """A call taken for a citizen (channel phone): the fields in the order they are asked."""

    phone = forms.CharField(
        label=_("Caller's phone"), max_length=30,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "autofocus": True,
                                      "inputmode": "tel"}),
    )
    category = CategoryField(label=_("Category"), blank="---------")
    description = forms.CharField(
        label=_("What happened"), max_length=MAX_DESCRIPTION, widget=forms.Textarea(attrs={"rows": 4}),
    )
    address = forms.CharField(label=_("Where"), max_length=MAX_ADDRESS, required=False)
    name = forms.CharField(label=_("Caller's name"), max_length=MAX_NAME, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].load()
