from django.contrib import admin

from tickets.models import Ticket, TicketEvent
from tickets.selectors import ticket_visible_to


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    fields = ["at", "kind", "from_state", "to_state", "actor", "unit", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-only for now: every change goes through the services (API)."""

    list_display = ["number", "state", "category", "unit", "channel", "reported_at", "due_at"]
    list_filter = ["state", "channel"]
    search_fields = ["=number"]
    list_select_related = ["category", "unit"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Ticket._meta.fields if f.name != "access_code_hash"]
    exclude = ["access_code_hash"]
    inlines = [TicketEventInline]

    def get_queryset(self, request):
        return ticket_visible_to(request.user).select_related("category", "unit")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff
