from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from departments.selectors import staff_scope
from tickets.errors import TicketError
from tickets.models import ExtensionRequest, Notification, Ticket, TicketEvent
from tickets.services import ticket_decide_extension
from tickets.selectors import notifications_visible_to, overdue_listed, sees_personal_data, ticket_visible_to
from tickets.validation import mask_name, mask_phone


class OverdueReportFilter(admin.SimpleListFilter):
    """The centre's report: unresolved 5 working days after the resolve deadline."""

    title = _("overdue report")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("listed", _("5+ working days past the resolve deadline"))]

    def queryset(self, request, queryset):
        if self.value() == "listed":
            return overdue_listed(queryset)  # already scoped by the admin's queryset
        return queryset


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    fields = ["at", "kind", "from_state", "to_state", "actor", "unit", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["id"]

    def has_add_permission(self, request, obj=None):
        return False


class ReadOnlyScopedAdmin(admin.ModelAdmin):
    """Staff read here; every change goes through the services."""

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

    # Citizens' personal data is the centre's to see; unit staff see these fields
    # through the masked display named beside each.
    masked_fields: dict[str, str] = {}

    def _masked(self, request, names):
        if not self.masked_fields or sees_personal_data(request.user):
            return names
        return [self.masked_fields.get(name, name) for name in names]

    def get_list_display(self, request):
        return self._masked(request, super().get_list_display(request))

    def get_fields(self, request, obj=None):
        return self._masked(request, super().get_fields(request, obj))

    def get_readonly_fields(self, request, obj=None):
        return self._masked(request, super().get_readonly_fields(request, obj))


@admin.register(Ticket)
class TicketAdmin(ReadOnlyScopedAdmin):
    """Read-only for now: every change goes through the services (API)."""

    list_display = [
        "number", "state", "category", "unit", "channel", "reported_at", "due_at", "escalation_level",
        "paused_until",
    ]
    list_filter = ["state", "channel", OverdueReportFilter]
    search_fields = ["=number"]
    list_select_related = ["category", "unit"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Ticket._meta.fields if f.name != "access_code_hash"]
    exclude = ["access_code_hash"]
    inlines = [TicketEventInline]

    masked_fields = {"reporter_name": "masked_reporter_name", "reporter_phone": "masked_reporter_phone"}

    def get_queryset(self, request):
        return ticket_visible_to(request.user).select_related("category", "unit")

    @admin.display(description=_("reporter's name"))
    def masked_reporter_name(self, obj: Ticket) -> str:
        return mask_name(obj.reporter_name)

    @admin.display(description=_("reporter's phone"))
    def masked_reporter_phone(self, obj: Ticket) -> str:
        return mask_phone(obj.reporter_phone)



@admin.register(Notification)
class NotificationAdmin(ReadOnlyScopedAdmin):
    """What reached whom: each notice with its status, attempts and last error."""

    list_display = ["created_at", "ticket", "kind", "recipient_unit", "channel", "address",
                    "status", "attempts", "sent_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["=ticket__number"]
    list_select_related = ["ticket", "recipient_unit"]
    show_full_result_count = False
    fields = ["ticket", "event", "kind", "recipient_unit", "channel", "address", "body", "status",
              "attempts", "last_error", "next_attempt_at", "created_at", "sent_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return notifications_visible_to(request.user).select_related("ticket", "recipient_unit")

    masked_fields = {"address": "masked_address"}

    @admin.display(description=_("address"))
    def masked_address(self, obj: Notification) -> str:
        is_citizen = obj.recipient_unit_id is None and obj.channel == Notification.Channel.SMS
        return mask_phone(obj.address) if is_citizen else obj.address


@admin.register(ExtensionRequest)
class ExtensionRequestAdmin(ReadOnlyScopedAdmin):
    """Extension requests (延期申请); the centre decides them here with the two actions."""

    list_display = ["ticket", "until", "reason", "status", "requested_by", "requested_at", "decided_by"]
    list_filter = ["status"]
    search_fields = ["=ticket__number"]
    list_select_related = ["ticket", "requested_by", "decided_by"]
    show_full_result_count = False
    actions = ["approve", "refuse"]

    def get_queryset(self, request):
        return ExtensionRequest.objects.filter(ticket__in=ticket_visible_to(request.user))

    def has_approve_permission(self, request):
        return staff_scope(request.user).is_dispatcher

    has_refuse_permission = has_approve_permission

    @admin.action(description=_("Approve the selected requests (the deadline moves)"), permissions=["approve"])
    def approve(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(description=_("Refuse the selected requests"), permissions=["refuse"])
    def refuse(self, request, queryset):
        self._decide(request, queryset, approve=False)

    def _decide(self, request, queryset, *, approve: bool) -> None:
        done = 0
        for extension in queryset.filter(status=ExtensionRequest.Status.PENDING).select_related("ticket"):
            try:
                ticket_decide_extension(ticket_id=extension.ticket_id, actor=request.user, approve=approve)
            except TicketError as error:
                self.message_user(request, f"{extension.ticket.number}: {error}", level=messages.ERROR)
                continue
            done += 1
        self.message_user(request, _("%(count)d request(s) decided.") % {"count": done})
