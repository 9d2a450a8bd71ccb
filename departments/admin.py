import datetime as dt

from django.contrib import admin, messages
from django.utils.translation import gettext as _

from departments import calendar
from departments.models import CalendarDay, Category, Membership, Unit
from departments.services import unit_upsert


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "parent", "liaison_name", "liaison_phone", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["parent"]
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        # The service keeps the materialised paths of the subtree right.
        saved = unit_upsert(
            code=obj.code, name=obj.name, kind=obj.kind, parent=obj.parent, is_active=obj.is_active,
            liaison_name=obj.liaison_name, liaison_phone=obj.liaison_phone,
            liaison_email=obj.liaison_email,
        )
        obj.pk, obj.path = saved.pk, saved.path


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "unit", "role", "created_at"]
    list_filter = ["role", "unit__kind"]
    search_fields = ["user__username", "unit__name", "unit__code"]
    autocomplete_fields = ["user", "unit"]
    list_select_related = ["user", "unit"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "parent", "routing", "default_unit", "is_active"]
    list_filter = ["routing", "is_active", "parent"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["parent", "default_unit"]
    list_select_related = ["parent", "default_unit"]
    fieldsets = [
        (None, {"fields": ["code", "name", "parent", "routing", "default_unit", "is_active"]}),
        (_("Deadlines"), {"fields": [
            ("accept_amount", "accept_unit"), ("claim_amount", "claim_unit"),
            ("resolve_amount", "resolve_unit"), ("feedback_amount", "feedback_unit"),
        ]}),
        (_("Extensions (延期)"), {"fields": [("extension_amount", "extension_unit"), "max_extensions"]}),
    ]


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ["date", "name", "is_workday"]
    list_filter = ["is_workday", ("date", admin.DateFieldListFilter)]
    date_hierarchy = "date"
    search_fields = ["name"]

    def changelist_view(self, request, extra_context=None):
        # The State Council publishes next year's schedule each November; without it
        # deadlines fall back to Monday-Friday and come out wrong around holidays.
        this_year = dt.date.today().year
        years = sorted({d.year for d in CalendarDay.objects.dates("date", "year")})
        if years:
            self.message_user(
                request, _("Official schedules loaded: %(years)s.") % {"years": _year_ranges(years)},
                level=messages.INFO,
            )
        for year in (this_year, this_year + 1):
            if not calendar.has_schedule(year):
                self.message_user(
                    request,
                    _("No official holiday schedule for %(year)s: deadlines count Monday to Friday "
                      "only. Enter the State Council's schedule (holidays and adjusted workdays).")
                    % {"year": year},
                    level=messages.ERROR,
                )
        return super().changelist_view(request, extra_context)


def _year_ranges(years: list[int]) -> str:
    """Return "2004–2026" for consecutive years, "2004–2020, 2026" with gaps."""
    ranges, start = [], years[0]
    for previous, year in zip(years, years[1:] + [None]):
        if year != previous + 1 if year is not None else True:
            ranges.append(str(start) if start == previous else f"{start}–{previous}")
            start = year
    return ", ".join(ranges)
