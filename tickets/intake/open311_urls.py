"""URLs of the Open311 GeoReport v2 server, each ending in its format (.xml or .json)."""

from django.urls import path, re_path

from tickets.intake import open311

app_name = "open311"

_FORMAT = r"\.(?P<fmt>[^/.]+)$"

urlpatterns = [
    path("", open311.not_found, name="root"),
    re_path(r"^discovery" + _FORMAT, open311.discovery, name="discovery"),
    re_path(r"^services" + _FORMAT, open311.services, name="services"),
    re_path(r"^services/(?P<code>[^/.]+)" + _FORMAT, open311.service_definition, name="service"),
    re_path(r"^requests" + _FORMAT, open311.service_requests, name="requests"),
    re_path(r"^requests/(?P<number>[^/.]+)" + _FORMAT, open311.request_detail, name="request"),
    re_path(r"^tokens/(?P<token>[^/.]+)" + _FORMAT, open311.token, name="token"),
    re_path(r"^servicerequestupdates" + _FORMAT, open311.updates, name="updates"),
    # Anything else here answers in the spec's error format, not the site's 404 page.
    re_path(r"^", open311.not_found),
]
