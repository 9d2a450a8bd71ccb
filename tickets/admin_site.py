"""The admin site of the hotline: its titles, and a landing page per role.

Unit staff work from their queue, so the site's index sends them to the ticket list;
the centre keeps the index with every model it manages. Installed in place of
``django.contrib.admin`` (INSTALLED_APPS), so ``admin.site`` is this site everywhere.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class MinhuAdminSite(admin.AdminSite):
    site_header = _("Minhu 12345 back office")
    site_title = _("Minhu 12345")
    index_title = _("Hotline administration")

    def each_context(self, request):
        from departments.selectors import staff_scope

        context = super().each_context(request)
        scope = staff_scope(request.user)
        # Operators take calls from every page of the back office; dispatchers reach
        # their live desk, unit staff and supervisors their live queue, from every page too.
        if scope.is_operator:
            context["call_entry_url"] = reverse("desk:call")
            context["callbacks_url"] = reverse("callbacks:list")
        if scope.is_dispatcher:
            context["dispatch_desk_url"] = reverse("desk:dispatch")
        if scope.visible_unit_ids:
            context["live_queue_url"] = reverse("desk:queue-mine")
        if scope.sees_tickets:
            context["archive_search_url"] = reverse("desk:search")
            context["stats_url"] = reverse("stats:dashboard")
        return context

    def index(self, request, extra_context=None):
        # Imported here: this module loads with the app registry, before any model.
        from departments.selectors import staff_scope

        scope = staff_scope(request.user)
        if not scope.sees_all and scope.visible_unit_ids:
            return redirect("admin:tickets_ticket_changelist")
        return super().index(request, extra_context)


class MinhuAdminConfig(AdminConfig):
    default_site = "tickets.admin_site.MinhuAdminSite"
