from django.urls import path, re_path

from tickets.sockets import consumers

websocket_urlpatterns = [
    path("ws/dispatch/", consumers.DispatchSocket.as_asgi()),
    re_path(r"^ws/units/(?P<code>[a-z0-9][a-z0-9-]{0,49})/$", consumers.UnitSocket.as_asgi()),
    re_path(r"^ws/track/(?P<number>\d{1,30})/$", consumers.TrackSocket.as_asgi()),
    # Anything else is refused with a code, not dropped without one.
    re_path(r"", consumers.UnknownSocket.as_asgi()),
]
