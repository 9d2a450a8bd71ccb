from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.api import json_not_found

urlpatterns = [
    path("", include("tickets.citizen.urls")),
    path("", include("feedback.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("desk/callbacks/", include("feedback.desk_urls")),
    path("desk/stats/", include("feedback.stats.desk_urls")),
    path("desk/", include("tickets.desk.urls")),
    path("api/v1/", include("tickets.api.urls")),
    path("intake/", include("tickets.intake.urls")),
    path("open311/v2/", include("tickets.intake.open311_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Unknown API and webhook URLs answer in the API's JSON error format, DEBUG or not.
    re_path(r"^(api|intake)/", json_not_found),
]

handler404 = "config.api.json_not_found"
