"""ASGI entry point: HTTP and the WebSockets of design §4, in one process (demo) or many."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

from config.env import require_secret_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()
# Django itself would only fail at the first signature; refuse to serve instead.
require_secret_key()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - needs Django set up

from tickets.sockets.auth import SocketAuthStack  # noqa: E402
from tickets.sockets.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_application,
    "websocket": SocketAuthStack(URLRouter(websocket_urlpatterns)),
})

if settings.EMBEDDED:
    # One process and no Celery: run the deadline jobs here.
    from tickets import embedded

    embedded.start()
