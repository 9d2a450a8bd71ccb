"""The citizens' forms: a report, an access code, a ticket number.

The forms only shape the input; what makes a report valid (text, phone, coordinates,
photos) is checked by the services, whose field errors are shown on these forms.
"""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tickets.attachments import PhotosField
from tickets.desk.forms import CategoryField
from tickets.errors import TicketError, show_on_form
from tickets.models import ACCESS_CODE_DIGITS
from tickets.validation import MAX_ADDRESS, MAX_DESCRIPTION, MAX_NAME


class ReportForm(forms.Form):
    """A citizen's report (channel web); only the category and the description are required."""

    category = CategoryField(label=_("What is it about?"))
    description = forms.CharField(
        label=_("What happened?"), max_length=MAX_DESCRIPTION,
        help_text=_("Say what the problem is, since when, and whom it affects."),
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    address = forms.CharField(
        label=_("Where?"), max_length=MAX_ADDRESS, required=False,
        help_text=_("Street, house number, a landmark nearby."),
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    lat = forms.CharField(
        label=_("Latitude"), max_length=20, required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    lng = forms.CharField(
        label=_("Longitude"), max_length=20, required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    photos = PhotosField(label=_("Photos"), required=False)
    name = forms.CharField(
        label=_("Your name"), max_length=MAX_NAME, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    phone = forms.CharField(
        label=_("Your phone number"), max_length=30, required=False,
        help_text=_("Only if you want the unit to be able to call you back and to get an SMS about it."),
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].load()
        photos = self.fields["photos"]
        photos.help_text = _(
            "Up to %(count)d photos (JPEG, PNG or WebP), each at most %(size)d MB. Optional."
        ) % {"count": settings.MINHU_MAX_PHOTOS, "size": settings.MINHU_MAX_PHOTO_BYTES // (1024 * 1024)}
        photos.widget.attrs.update({
            "data-max-count": settings.MINHU_MAX_PHOTOS, "data-max-bytes": settings.MINHU_MAX_PHOTO_BYTES,
        })

    def show_error(self, error: TicketError) -> None:
        # "Give both or neither" belongs to the coordinate that is missing.
        show_on_form(self, error, aliases={"location": "lat" if self.data.get("lng") else "lng"})

    def arguments(self) -> dict:
        """Return the service's keyword arguments (photos are checked separately)."""
        data = self.cleaned_data
        return {
            "category": data["category"], "description": data["description"],
            "address": data["address"], "lat": data["lat"], "lng": data["lng"],
            "reporter_name": data["name"], "reporter_phone": data["phone"],
        }


class AccessCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Access code"), max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = _("The %(digits)d digits you were given when you reported.") % {
            "digits": ACCESS_CODE_DIGITS
        }

    def clean_code(self) -> str:
        # People copy the code with the spaces it was read out with.
        return "".join(self.cleaned_data["code"].split())


class FindForm(forms.Form):
    number = forms.CharField(
        label=_("Report number"), max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean_number(self) -> str:
        return "".join(self.cleaned_data["number"].split())
