"""ASGI entry point: the whole product in one process (demo) or the socket servers."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

from config.env import require_secret_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
# Django itself would only fail at the first signature; refuse to serve instead.
require_secret_key()

if settings.EMBEDDED:
    # One process and no Celery: run the deadline jobs here.
    from tickets import embedded

    embedded.start()
