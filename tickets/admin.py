"""The admin of tickets: each unit's queue, the centre's desk, and the logs behind them.

Every list, page, filter choice and autocomplete reads through the selectors' one
visibility rule; every change goes through the services (see tickets.admin_views).
Lists stay cheap at millions of rows: counts stop at a cap, facets are off, and each
foreign key shown is joined in the page's one query.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext, gettext_lazy as _

from departments.models import Unit
from departments.selectors import report_categories, staff_scope
from tickets.admin_views import TicketDeskMixin
from tickets.errors import TicketError
from tickets.intake.open311_selectors import open311_key_in_use
from tickets.intake.open311_services import open311_key_create, open311_key_revoke
from tickets.models import (
    OPEN_STATES, ExtensionRequest, Notification, Open311Key, PersonalDataAccess, Sla, Ticket, TicketEvent,
)
from tickets.selectors import (
    dispatch_units,
    events_visible_to,
    notifications_visible_to,
    overdue_listed,
    sees_personal_data,
    sla_filter,
    ticket_visible_to,
)
from tickets.search import ticket_search
from tickets.services import ticket_decide_extension
from tickets.validation import mask_name, mask_phone


class CappedPaginator(Paginator):
    """Count at most `cap` rows: a changelist never counts a million to print a number.

    The count reads the ids of the first cap + 1 matching rows (no ordering), so it
    costs the same for a unit's thousand tickets as for the city's million; beyond the
    cap the list says "10,000+" and pages stop there.
    """

    cap = 10_000

    @cached_property
    def _seen(self) -> int:
        return self.object_list.order_by().values("pk")[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._seen, self.cap)

    @property
    def is_capped(self) -> bool:
        return self._seen > self.cap

    @property
    def count_label(self) -> str:
        return f"{self.count:,}+" if self.is_capped else f"{self.count:,}"


class ChoiceListFilter(admin.SimpleListFilter):
    """A filter whose value must be one of its own choices; anything else is ignored."""

    lookup = ""

    def condition(self, value: str) -> Q:
        return Q(**{self.lookup: value})

    def queryset(self, request, queryset):
        value = self.value()
        if value not in {str(key) for key, _label in self.lookup_choices}:
            return queryset
        return queryset.filter(self.condition(value))


STATE_PARAM = "state__exact"


class QueueFilter(admin.SimpleListFilter):
    """What the list holds: running deadlines (the default), all open work, or every ticket.

    The default is the working queue: tickets whose clock runs, the most overdue first
    (red-carded tickets lead, being past their deadline), then the nearest deadline, then
    the newest dispatched. It reads the partial index on due_at, so its first page costs
    the same at a million tickets as at a hundred. A state chosen in its own filter lists
    that state instead, newest first.
    """

    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("open", _("All open tickets, newest first")), ("all", _("All tickets, newest first"))]

    def choices(self, changelist):
        chosen = None if STATE_PARAM in changelist.params else (self.value() or ("all" if changelist.query else "due"))
        for value, label in [("due", _("Running deadlines, most urgent first")), *self.lookup_choices]:
            yield {
                "selected": chosen == value,
                "query_string": changelist.get_query_string(
                    {} if value == "due" else {self.parameter_name: value},
                    remove=[self.parameter_name, STATE_PARAM],
                ),
                "display": label,
            }

    def queryset(self, request, queryset):
        if ranks_by_deadline(request):
            return queryset.filter(due_at__isnull=False)
        if self.value() == "open" and STATE_PARAM not in request.GET:
            return queryset.filter(state__in=OPEN_STATES)
        return queryset


def ranks_by_deadline(request) -> bool:
    """Whether the ticket list is the default queue of running deadlines (else: newest first).

    A search looks through every ticket, the archive included, newest first.
    """
    return (STATE_PARAM not in request.GET and request.GET.get(QueueFilter.parameter_name) not in ("open", "all")
            and not request.GET.get(SEARCH_VAR, "").strip())


class CategoryFilter(ChoiceListFilter):
    title = _("category")
    parameter_name = "category"
    lookup = "category_id"

    def lookups(self, request, model_admin):
        return [(c.pk, str(c)) for _group, leaves in report_categories() for c in leaves]


class UnitFilter(ChoiceListFilter):
    """The units the user may see (the centre: every handling unit); hidden when that is one."""

    title = _("unit")
    parameter_name = "unit"
    lookup = "unit_id"

    def lookups(self, request, model_admin):
        scope = staff_scope(request.user)
        units = dispatch_units() if scope.sees_all else Unit.objects.filter(pk__in=scope.visible_unit_ids)
        return [(u.pk, u.name) for u in units.order_by("path").only("pk", "name")]

    def has_output(self):
        return len(self.lookup_choices) > 1


class SlaListFilter(ChoiceListFilter):
    title = _("deadline (SLA)")
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return Sla.choices

    def condition(self, value: str) -> Q:
        return sla_filter(value)


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


class ReadOnlyScopedAdmin(admin.ModelAdmin):
    """Staff read here; every change goes through the services."""

    paginator = CappedPaginator
    show_full_result_count = False
    # Facets would count every filter choice over the whole table.
    show_facets = admin.ShowFacets.NEVER

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
    # through the masked display named beside each, unless they revealed them on this
    # very response (logged by the reveal service).
    masked_fields: dict[str, str] = {}

    def _masked(self, request, names):
        revealed = getattr(request, "reporter_revealed", False)
        if not self.masked_fields or revealed or sees_personal_data(request.user):
            return names
        return [self.masked_fields.get(name, name) for name in names]

    def get_list_display(self, request):
        return self._masked(request, super().get_list_display(request))

    def get_fields(self, request, obj=None):
        return self._masked(request, super().get_fields(request, obj))

    def get_fieldsets(self, request, obj=None):
        return [
            (title, {**options, "fields": self._masked(request, options["fields"])})
            for title, options in super().get_fieldsets(request, obj)
        ]

    def get_readonly_fields(self, request, obj=None):
        return self._masked(request, super().get_readonly_fields(request, obj))


_REPORT = [
    "number", "state", "channel", "category", "unit", "description", "address", "lat", "lng",
    "reporter_name", "reporter_phone", "reported_at", "support_count", "merged_into",
]
_DEADLINES = [
    "due_at", "accept_due_at", "claim_due_at", "resolve_due_at", "feedback_due_at", "escalation_level",
    "paused_at", "paused_until", "pause_count",
]
_HANDLING = ["is_final_dispatch", "return_count", "reopen_count", "reply", "rating"]
_TIMES = [
    "accepted_at", "dispatched_at", "claimed_at", "resolved_at", "verified_at", "closed_at", "archived_at",
    "updated_at",
]

# The queue: the most overdue first, then the nearest deadline, then the newest dispatched.
# due_at ascending is the order of its partial index (rows with a running clock only).
DEADLINE_FIRST = [F("due_at").asc(), F("dispatched_at").desc(nulls_last=True), "-id"]


@admin.register(Ticket)
class TicketAdmin(TicketDeskMixin, ReadOnlyScopedAdmin):
    """A unit's queue and the centre's desk; the buttons on a ticket's page call the services."""

    list_display = [
        "number", "summary", "state", "category", "unit", "deadline", "resolve_due_at", "escalation_level",
        "reopen_count", "return_count", "dispatched_at",
    ]
    list_filter = [
        QueueFilter, "state", "channel", CategoryFilter, UnitFilter, SlaListFilter, OverdueReportFilter,
    ]
    list_select_related = ["category__parent", "unit"]
    list_per_page = 50
    # Searched through ticket_search (an exact number; the centre also a phone; text of
    # the description or address), so that the autocomplete, which needs search fields,
    # reads the same rule.
    search_fields = ["number__exact"]
    search_help_text = _(
        "A ticket number, the centre also a reporter's phone, or words of the description or address "
        "(the newest 100 tickets that hold them; the archive search lists them all)."
    )
    # A text search lists this many matches, the newest: the list's count and pages stay cheap.
    search_text_limit = 100
    sortable_by = ["number", "deadline", "resolve_due_at", "escalation_level", "dispatched_at"]
    fieldsets = [
        (_("Report"), {"fields": _REPORT}),
        (_("Deadlines"), {"fields": _DEADLINES}),
        (_("Handling"), {"fields": _HANDLING}),
        (_("Times"), {"fields": _TIMES, "classes": ["collapse"]}),
    ]
    readonly_fields = _REPORT + _DEADLINES + _HANDLING + _TIMES

    masked_fields = {"reporter_name": "masked_reporter_name", "reporter_phone": "masked_reporter_phone"}

    class Media:
        css = {"all": ["tickets/admin.css"]}

    def get_queryset(self, request):
        # The changelist orders by get_ordering; elsewhere (autocomplete) newest first,
        # which the primary key gives without a sort.
        return ticket_visible_to(request.user).select_related("category__parent", "unit").order_by("-id")

    def get_ordering(self, request):
        # Ranking by deadline means something only where clocks run, and elsewhere would
        # sort every matching row: other lists go newest first, in the primary key's order.
        return DEADLINE_FIRST if ranks_by_deadline(request) else ["-id"]

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        try:
            return ticket_search(queryset, user=request.user, term=search_term, limit=self.search_text_limit), False
        except TicketError as error:
            # The list says why it is empty; the autocomplete, asked at every keystroke, stays quiet.
            if getattr(request.resolver_match, "url_name", "") != "autocomplete":
                self.message_user(request, error.detail, messages.WARNING)
            return queryset.none(), False

    @admin.display(description=_("description"))
    def summary(self, obj: Ticket) -> str:
        return Truncator(obj.description).chars(30)

    @admin.display(description=_("nearest deadline"), ordering="due_at")
    def deadline(self, obj: Ticket):
        if obj.due_at is None:
            return self.get_empty_value_display()
        when = date_format(timezone.localtime(obj.due_at), "SHORT_DATETIME_FORMAT")
        badge = {Sla.BREACHED: ("sla-breached", _("overdue")), Sla.WARNING: ("sla-warning", _("due soon"))}
        if obj.sla not in badge:
            return when
        css, label = badge[obj.sla]
        return format_html('<span class="sla-badge {}">{}</span> {}', css, label, when)

    @admin.display(description=_("reporter's name"))
    def masked_reporter_name(self, obj: Ticket) -> str:
        return mask_name(obj.reporter_name)

    @admin.display(description=_("reporter's phone"))
    def masked_reporter_phone(self, obj: Ticket) -> str:
        return mask_phone(obj.reporter_phone)


@admin.register(TicketEvent)
class TicketEventAdmin(ReadOnlyScopedAdmin):
    """Every ticket's history, newest first: transitions, cards, notices."""

    list_display = ["at", "ticket", "kind", "from_state", "to_state", "actor", "unit", "short_note"]
    list_select_related = ["ticket", "actor", "unit"]
    search_fields = ["ticket__number__exact"]
    ordering = ["-id"]
    fields = ["ticket", "at", "kind", "from_state", "to_state", "actor", "unit", "note", "payload", "is_public"]
    readonly_fields = fields

    def get_queryset(self, request):
        return events_visible_to(request.user).select_related("ticket", "actor", "unit")

    @admin.display(description=_("note"))
    def short_note(self, obj: TicketEvent) -> str:
        return Truncator(obj.note).chars(40)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyScopedAdmin):
    """What reached whom: each notice with its status, attempts and last error."""

    list_display = ["created_at", "ticket", "kind", "recipient_unit", "channel", "address",
                    "status", "attempts", "sent_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["ticket__number__exact"]
    list_select_related = ["ticket", "recipient_unit"]
    ordering = ["-id"]
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
    search_fields = ["ticket__number__exact"]
    list_select_related = ["ticket", "requested_by", "decided_by"]
    ordering = ["-id"]
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
        self.message_user(request, gettext("%(count)d request(s) decided.") % {"count": done})


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(ReadOnlyScopedAdmin):
    """Who revealed which citizen's name and phone, and when: the centre audits it here."""

    list_display = ["at", "user", "ticket", "reason"]
    list_select_related = ["user", "ticket"]
    search_fields = ["ticket__number__exact", "user__username__exact"]
    ordering = ["-id"]
    fields = ["at", "user", "ticket", "reason"]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        return staff_scope(request.user).sees_all

    has_module_permission = has_view_permission

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "ticket")


class Open311KeyForm(forms.ModelForm):
    class Meta:
        model = Open311Key
        fields = ["name"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if open311_key_in_use(name):
            raise forms.ValidationError(_("This client already has a working key; revoke it first."))
        return name


@admin.register(Open311Key)
class Open311KeyAdmin(admin.ModelAdmin):
    """Open311 clients' API keys: created here (the key shown once), revoked here, never edited.

    Revoked keys stay listed: the requests a client sent keep its name.
    """

    form = Open311KeyForm
    list_display = ["name", "key_prefix", "is_active", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name"]
    ordering = ["-id"]
    actions = ["revoke"]

    @admin.display(description=_("key starts with"))
    def key_prefix(self, obj: Open311Key) -> str:
        return f"{obj.prefix}…"

    @admin.display(description=_("working"), boolean=True)
    def is_active(self, obj: Open311Key) -> bool:
        return obj.is_active

    def get_fields(self, request, obj=None):
        return ["name"] if obj is None else ["name", "key_prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        key, raw = open311_key_create(name=obj.name)
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = key.pk, key.prefix, key.key_hash, key.created_at
        request.open311_key = raw

    def response_add(self, request, obj, post_url_continue=None):
        # The key is shown on this page only, never stored nor carried in a message
        # cookie to the next page.
        return TemplateResponse(request, "admin/tickets/open311key/created.html", {
            **self.admin_site.each_context(request),
            "title": gettext("New Open311 API key"), "opts": self.opts, "key": obj, "raw_key": request.open311_key,
        })

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            open311_key_revoke(key_id=key.pk)
        self.message_user(request, gettext("The selected keys are revoked."))
