"""WSGI entry point: the HTTP side (the API, the webhooks, the pages) under granian (config.http)."""

import os

from django.core.wsgi import get_wsgi_application

from config.env import require_secret_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# Django itself would only fail at the first signature; refuse to serve instead.
require_secret_key()
