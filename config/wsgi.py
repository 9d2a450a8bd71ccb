"""WSGI entry point: the hot HTTP paths (API, webhooks) under gunicorn's sync workers."""

import os

from django.core.wsgi import get_wsgi_application

from config.env import require_secret_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# Django itself would only fail at the first signature; refuse to serve instead.
require_secret_key()
