"""Strict readers of the environment.

Configuration is the environment (12-factor). A typo in a variable must stop the
process at start-up, not turn into a silently different behaviour in production.
"""

import os
import re

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "on"}
_FALSE = {"0", "false", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    """Return the variable's value, or the default when it is unset or empty."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool = False) -> bool:
    """Return a boolean variable; refuse anything but 1/0, true/false, on/off."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: use true or false (or 1/0, on/off).")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Return a whole-number variable no smaller than `minimum`."""
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value}: must be at least {minimum}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """Return a comma-separated variable as a list of non-empty items."""
    raw = env_str(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


_RATE = re.compile(r"^\d+/\d*[smhd]$")


def env_rate(name: str, default: str) -> str:
    """Return a django-ratelimit rate such as 600/m (count/period: s, m, h or d, optionally 5m)."""
    value = env_str(name, default)
    if not _RATE.match(value):
        raise ImproperlyConfigured(f"{name}={value!r}: expected a rate such as 600/m.")
    return value


def require_secret_key() -> None:
    """Refuse to start a server or worker that would sign with no key."""
    from django.conf import settings

    if not getattr(settings, "SECRET_KEY", ""):  # Django raises on an empty key itself
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
