"""The small forms behind the buttons of a ticket's admin page, one per service call.

A form checks only the shape of its input; its cleaned data are the keyword arguments
of one service function, which decides everything else. An error the service raises
comes back onto the form that caused it.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from departments.selectors import leaf_categories
from tickets.attachments import PhotosField, clean_photos
from tickets.errors import InvalidInput, NotFound, TicketError, show_on_form
from tickets.models import ReturnReason, Ticket
from tickets.selectors import dispatch_suggestion, dispatch_units, ticket_get
from tickets.validation import MAX_DESCRIPTION, MAX_NOTE

_DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _note(label, *, required: bool = True, max_length: int = MAX_NOTE) -> forms.CharField:
    return forms.CharField(
        label=label, required=required, max_length=max_length,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


def _until(label) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label, input_formats=[_DATETIME_LOCAL],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=_DATETIME_LOCAL),
    )


class ActionForm(forms.Form):
    """The input of one service call; `arguments()` are its keyword arguments."""

    # The service's name of a field, where it differs from the form's.
    service_fields: dict[str, str] = {}

    def __init__(self, data=None, files=None, *, ticket: Ticket, user, prefix: str):
        super().__init__(data, files, prefix=prefix)
        self.ticket, self.user = ticket, user

    def arguments(self) -> dict:
        return dict(self.cleaned_data)

    def show_error(self, error: TicketError) -> None:
        show_on_form(self, error, aliases=self.service_fields)


class ReasonForm(ActionForm):
    reason = _note(_("reason"))


class ReturnForm(ActionForm):
    reason = forms.ChoiceField(label=_("reason"), choices=ReturnReason.choices)
    comment = _note(_("explanation (required for other)"), required=False)


class MergeForm(ActionForm):
    into = forms.CharField(
        label=_("number of the ticket to merge into"), max_length=20,
        help_text=_("An open ticket this one duplicates; it gains this ticket's support."),
    )

    def clean_into(self) -> Ticket:
        try:
            into = ticket_get(user=self.user, number=self.cleaned_data["into"].strip())
        except NotFound:
            raise ValidationError(_("No ticket with that number that you may see.")) from None
        return into  # the service judges whether it may take this one in

    def arguments(self) -> dict:
        return {"into_id": self.cleaned_data["into"].pk}



class SuggestedUnitField(forms.ModelChoiceField):
    def __init__(self, *args, suggested=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.suggested = suggested

    def label_from_instance(self, unit) -> str:
        if self.suggested is not None and unit.pk == self.suggested.pk:
            return _("%(unit)s (suggested: the category's usual unit)") % {"unit": unit.name}
        return unit.name


class DispatchForm(ActionForm):
    unit = SuggestedUnitField(label=_("handling unit"), queryset=dispatch_units())
    final = forms.BooleanField(
        label=_("final ruling (审定): the unit may not return it"), required=False,
    )
    category = forms.ModelChoiceField(
        label=_("category"), queryset=leaf_categories(), required=False,
        help_text=_("Sort the ticket into another category on the way; its deadlines apply."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].initial = self.ticket.category_id
        suggested = dispatch_suggestion(self.ticket)
        self.fields["unit"].suggested = suggested
        if suggested is not None:
            self.fields["unit"].initial = suggested.pk


class UntilForm(ActionForm):
    until = _until(_("until"))
    reason = _note(_("reason"))


class ExtensionForm(UntilForm):
    until = _until(_("new resolve deadline"))


class PauseForm(UntilForm):
    until = _until(_("paused until at most"))
    reason = _note(_("what the citizen is asked for (sent to them)"))


class ResumeForm(ActionForm):
    note = _note(_("note"), required=False)
    service_fields = {"comment": "note"}


class ResolveForm(ActionForm):
    reply = _note(_("reply to the citizen"), max_length=MAX_DESCRIPTION)
    photos = PhotosField(label=_("photos of the result (JPEG, PNG or WebP)"), required=False)

    def clean_photos(self):
        try:
            return clean_photos(self.cleaned_data["photos"])
        except InvalidInput as error:
            raise ValidationError(error.fields["photos"]) from None


class DecideExtensionForm(ActionForm):
    decision = forms.ChoiceField(
        label=_("decision"), widget=forms.RadioSelect,
        choices=[("approve", _("approve: the deadline moves")), ("refuse", _("refuse"))],
    )
    note = _note(_("note"), required=False)
    service_fields = {"comment": "note"}

    def arguments(self) -> dict:
        return {"approve": self.cleaned_data["decision"] == "approve", "note": self.cleaned_data["note"]}


class RevealForm(forms.Form):
    reason = forms.CharField(label=_("why (optional)"), required=False, max_length=200)
