"""Checks on citizen-supplied values, shared by every intake channel and the API."""

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _

from tickets.errors import InvalidInput

MAX_DESCRIPTION = 5000
MAX_ADDRESS = 300
MAX_NAME = 50
MAX_NOTE = 2000

_PHONE_SEPARATORS = re.compile(r"[\s()\-]")
# Mainland mobiles (11 digits from 13-19) and landlines with an area code.
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")


_WEB_ADDRESS = URLValidator(schemes=["http", "https"])


def field_error(field: str, message: str) -> InvalidInput:
    """Return the error of one field: the message under its name, and in the detail."""
    return InvalidInput(f"{field}: {message}", fields={field: [message]})


def clean_web_address(value: object, *, field: str, max_length: int) -> str:
    """Return an http(s) address (a picture, a photo's link); refuse anything else."""
    if not isinstance(value, str) or len(value) > max_length:
        raise field_error(field, _("Give an http or https address of at most %(count)d characters.")
                          % {"count": max_length})
    try:
        _WEB_ADDRESS(value)
    except ValidationError:
        raise field_error(field, _("Give an http or https address of at most %(count)d characters.")
                          % {"count": max_length}) from None
    return value


def clean_text(value: object, *, field: str, max_length: int, required: bool) -> str:
    """Return the text stripped; refuse non-text, blank (when required) and overlong values."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text.", fields={field: [_("Must be text.")]})
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{field} is required.", fields={field: [_("This field is required.")]})
    if len(value) > max_length:
        message = _("At most %(count)d characters.") % {"count": max_length}
        raise InvalidInput(f"{field} is too long.", fields={field: [message]})
    return value


def normalize_phone(value: object, *, field: str = "phone") -> str:
    """Return a mainland phone number as digits only (+86 dropped), or "" when absent."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text.", fields={field: [_("Must be text.")]})
    digits = _PHONE_SEPARATORS.sub("", value.strip())
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits
    raise InvalidInput(
        f"{value!r} is not a phone number.",
        fields={field: [_("Use an 11-digit mobile number or a landline with its area code.")]},
    )


def clean_coordinate(value: object, *, field: str, limit: int) -> Decimal | None:
    """Return a latitude/longitude rounded to 6 places, or None; refuse out-of-range values."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be a number.", fields={field: [_("Must be a number.")]})
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{field} must be a number.", fields={field: [_("Must be a number.")]}) from None
    if not number.is_finite() or not -limit <= number <= limit:
        raise InvalidInput(
            f"{field} is out of range.", fields={field: [_("Must be between -%(limit)d and %(limit)d.") % {"limit": limit}]}
        )
    return number.quantize(Decimal("0.000001"))


def mask_phone(phone: str) -> str:
    """Return 138****8000 for 13800138000: enough to recognise, not to call."""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


def mask_name(name: str) -> str:
    return f"{name[0]}{'*' * (len(name) - 1)}" if name else ""
