"""The admin of the organisation: units, categories and the calendar, kept by the centre,
and staff memberships, which a unit's administrator also keeps for its own unit.

Who may do what here: superusers everything; the centre's staff read units,
categories and the calendar, its dispatchers change them and every membership; a unit
administrator (单位管理员) adds, changes and removes the handler and unit administrator
memberships of its own units, creating accounts for new staff, and sees nothing else;
handlers and supervisors have nothing here.
"""

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _, gettext_lazy

from departments import calendar
from departments.models import (
    CENTRE_ROLES,
    CalendarDay,
    Category,
    CategoryAttribute,
    Membership,
    Role,
    RoutingRule,
    Unit,
)
from departments.selectors import UNIT_ROLES, staff_scope
from departments.services import staff_upsert, unit_upsert


def _keeps_organisation(request) -> bool:
    """Superusers and the centre's dispatchers keep units, categories, the calendar and all staff."""
    return staff_scope(request.user).is_dispatcher


class CentreKeptAdmin(admin.ModelAdmin):
    """Read by the centre's staff, changed by its dispatchers; deleting stays with superusers."""

    def has_module_permission(self, request):
        return staff_scope(request.user).sees_all or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return staff_scope(request.user).sees_all or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return _keeps_organisation(request) or super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return _keeps_organisation(request) or super().has_change_permission(request, obj)


class MembershipInline(admin.TabularInline):
    """A unit's staff on its page: the centre reads them, superusers edit them here."""

    model = Membership
    extra = 0
    autocomplete_fields = ["user"]

    def has_view_permission(self, request, obj=None):
        return staff_scope(request.user).sees_all or super().has_view_permission(request, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(Unit)
class UnitAdmin(CentreKeptAdmin):
    list_display = ["name", "code", "kind", "parent", "liaison_name", "liaison_phone", "is_active"]
    list_filter = ["kind", "is_active"]
    list_select_related = ["parent"]
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


class MembershipForm(forms.ModelForm):
    """A role in a unit; `actor` (set per request by the admin) bounds what may be granted."""

    actor = None

    class Meta:
        model = Membership
        fields = ["unit", "role"]

    def clean(self):
        data = super().clean()
        unit, role = data.get("unit"), data.get("role")
        if unit is not None and role in CENTRE_ROLES and not unit.is_centre:
            self.add_error("role", _("Operators and dispatchers belong to the dispatch centre."))
        return data

    def _refuse_duplicate(self, user) -> None:
        data = self.cleaned_data
        same = Membership.objects.filter(user=user, unit=data.get("unit"), role=data.get("role"))
        if self.instance.pk:
            same = same.exclude(pk=self.instance.pk)
        if user is not None and same.exists():
            self.add_error("role", _("This person already has this role in this unit."))


class MembershipAddForm(MembershipForm):
    """Give a role to a new account (with its password) or to an existing one (never its password)."""

    username = forms.CharField(
        label=gettext_lazy("username"), max_length=150, validators=[UnicodeUsernameValidator()],
        help_text=gettext_lazy("A new username creates the staff account."),
    )
    password = forms.CharField(
        label=gettext_lazy("password for a new account"), required=False, strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("Leave empty when the account exists: its password is not changed here."),
    )

    def clean(self):
        data = super().clean()
        username, password = data.get("username"), data.get("password")
        if not username:
            return data
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if not password:
                self.add_error("password", _("A new account needs a password."))
            else:
                try:
                    validate_password(password, User(username=username))
                except ValidationError as error:
                    self.add_error("password", error)
        else:
            if password:
                self.add_error("password", _("This account exists; leave the password empty."))
            administered = staff_scope(self.actor).administered_unit_ids
            if not staff_scope(self.actor).is_dispatcher and not Membership.objects.filter(
                user=user, unit_id__in=administered
            ).exists():
                self.add_error("username", _("This account is not your unit's staff; ask the dispatch centre."))
        self._refuse_duplicate(user)
        return data


class MembershipChangeForm(MembershipForm):
    def clean(self):
        data = super().clean()
        self._refuse_duplicate(self.instance.user)
        return data


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "unit", "role", "created_at"]
    list_filter = ["role", "unit__kind"]
    search_fields = ["user__username", "unit__name", "unit__code"]
    list_select_related = ["user", "unit"]

    def get_queryset(self, request):
        memberships = super().get_queryset(request)
        if _keeps_organisation(request):
            return memberships
        return memberships.filter(unit_id__in=staff_scope(request.user).administered_unit_ids)

    def _administers(self, request, obj=None, *, change: bool = False) -> bool:
        units = staff_scope(request.user).administered_unit_ids
        if not units or obj is None:
            return bool(units)
        return obj.unit_id in units and (not change or obj.role in UNIT_ROLES)

    def has_module_permission(self, request):
        return _keeps_organisation(request) or self._administers(request)

    def has_view_permission(self, request, obj=None):
        return _keeps_organisation(request) or self._administers(request, obj)

    def has_add_permission(self, request):
        return _keeps_organisation(request) or self._administers(request)

    def has_change_permission(self, request, obj=None):
        return _keeps_organisation(request) or self._administers(request, obj, change=True)

    has_delete_permission = has_change_permission

    def get_autocomplete_fields(self, request):
        return ["unit"] if _keeps_organisation(request) else []

    def get_fields(self, request, obj=None):
        return ["username", "password", "unit", "role"] if obj is None else ["user", "unit", "role"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["user"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = MembershipAddForm if obj is None else MembershipChangeForm
        form = super().get_form(request, obj, change, **kwargs)
        form.actor = request.user  # a class made for this request by modelform_factory
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "unit" and not _keeps_organisation(request):
            kwargs["queryset"] = Unit.objects.filter(pk__in=staff_scope(request.user).administered_unit_ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role" and not _keeps_organisation(request):
            kwargs["choices"] = [(role.value, role.label) for role in Role if role in UNIT_ROLES]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        # staff_upsert creates the account when it is new; an existing one keeps its password.
        user = staff_upsert(
            username=form.cleaned_data["username"], unit=obj.unit, role=obj.role,
            password=form.cleaned_data["password"] or None,
        )
        saved = Membership.objects.get(user=user, unit=obj.unit, role=obj.role)
        obj.pk, obj.user, obj.created_at = saved.pk, user, saved.created_at


class CategoryAttributeInline(admin.StackedInline):
    """The questions the category asks with each Open311 report (its service definition)."""

    model = CategoryAttribute
    extra = 0
    fields = [("code", "datatype", "required", "variable", "order"), "description", "datatype_description", "values"]

    def has_view_permission(self, request, obj=None):
        return staff_scope(request.user).sees_all or super().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return _keeps_organisation(request) or super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return _keeps_organisation(request) or super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _keeps_organisation(request) or super().has_delete_permission(request, obj)


class RoutingRuleInline(admin.TabularInline):
    model = RoutingRule
    extra = 1
    autocomplete_fields = ["unit"]
    fields = ["keywords", "unit", "is_active"]


@admin.register(Category)
class CategoryAdmin(CentreKeptAdmin):
    list_display = ["name", "code", "parent", "routing", "default_unit", "is_active"]
    # Only the groups (categories that have children), whose names need no further query.
    list_filter = ["routing", "is_active", ("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "code"]
    autocomplete_fields = ["parent", "default_unit"]
    list_select_related = ["parent", "default_unit"]
    fieldsets = [
        (None, {"fields": ["code", "name", "parent", "routing", "default_unit", "is_active", "auto_dispatch"]}),
        (gettext_lazy("Deadlines"), {"fields": [
            ("accept_amount", "accept_unit"), ("claim_amount", "claim_unit"),
            ("resolve_amount", "resolve_unit"), ("feedback_amount", "feedback_unit"),
        ]}),
        (gettext_lazy("Extensions (延期)"), {"fields": [("extension_amount", "extension_unit"), "max_extensions"]}),
        (gettext_lazy("Open311 service"), {"fields": ["description", "keywords"]}),
    ]
    inlines = [RoutingRuleInline, CategoryAttributeInline]

    def get_queryset(self, request):
        # Category.__str__ names its parent: join it for lists, autocompletes and filters.
        return super().get_queryset(request).select_related("parent")


@admin.register(CalendarDay)
class CalendarDayAdmin(CentreKeptAdmin):
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
