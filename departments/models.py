"""Handling units, staff memberships, the category taxonomy and the working calendar."""

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

code_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{1,49}$", _("Use 2-50 lowercase letters, digits and hyphens.")
)


class UnitKind(models.TextChoices):
    CENTRE = "centre", _("Dispatch centre")
    DISTRICT = "district", _("District")
    STREET = "street", _("Street")
    COMMUNITY = "community", _("Community")
    BUREAU = "bureau", _("Municipal bureau")
    UTILITY = "utility", _("Utility")


class Unit(models.Model):
    """A handling unit (承办单位) in the tree rooted at the dispatch centre."""

    code = models.CharField(_("code"), max_length=50, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=UnitKind.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="children",
    )
    # Materialised path of codes ("/centre/wuchang/wuchang-zhongnan/"), kept by
    # unit_save(): subtree reads (supervisors, roll-ups) are one prefix match.
    path = models.CharField(max_length=500, editable=False, db_index=True)
    is_active = models.BooleanField(_("active"), default=True)
    # The unit's liaison (联络员): reminders, warnings, escalations and urging notices
    # addressed to the unit go here, by SMS and by email.
    liaison_name = models.CharField(_("liaison"), max_length=50, blank=True)
    liaison_phone = models.CharField(_("liaison's mobile"), max_length=20, blank=True)
    liaison_email = models.EmailField(_("liaison's email"), blank=True)

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"], condition=Q(kind="centre"), name="unit_single_centre"
            ),
            models.CheckConstraint(
                condition=Q(kind="centre", parent__isnull=True) | ~Q(kind="centre"),
                name="unit_centre_is_root",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_centre(self) -> bool:
        return self.kind == UnitKind.CENTRE


class Role(models.TextChoices):
    OPERATOR = "operator", _("Operator")
    DISPATCHER = "dispatcher", _("Dispatcher")
    HANDLER = "handler", _("Handler")
    UNIT_ADMIN = "unit_admin", _("Unit administrator")
    SUPERVISOR = "supervisor", _("Supervisor")


CENTRE_ROLES = frozenset({Role.OPERATOR, Role.DISPATCHER})


class Membership(models.Model):
    """A staff member's role in one unit; a person may hold several."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "unit", "role"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.unit} · {self.get_role_display()}"


class DeadlineUnit(models.TextChoices):
    HOURS = "hours", _("hours")
    WORKING_DAYS = "working_days", _("working days")


class Routing(models.TextChoices):
    TERRITORIAL = "territorial", _("Territorial (the district or street of the address)")
    FUNCTIONAL = "functional", _("Functional (one bureau or utility)")


STAGES = ("accept", "claim", "resolve", "feedback")


def _deadline_fields(label, unit_label, amount: int, unit: str):
    return (
        models.PositiveIntegerField(label, default=amount, validators=[MinValueValidator(1)]),
        models.CharField(unit_label, max_length=20, choices=DeadlineUnit.choices, default=unit),
    )


class Category(models.Model):
    """A kind of request, with the unit that usually handles it and its deadlines."""

    code = models.CharField(_("code"), max_length=50, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self", verbose_name=_("group"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="children",
    )
    routing = models.CharField(
        _("routing"), max_length=20, choices=Routing.choices, default=Routing.FUNCTIONAL
    )
    default_unit = models.ForeignKey(
        Unit, verbose_name=_("default unit"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)
    accept_amount, accept_unit = _deadline_fields(
        _("accept deadline"), _("accept deadline unit"), 2, DeadlineUnit.HOURS
    )
    claim_amount, claim_unit = _deadline_fields(
        _("claim deadline"), _("claim deadline unit"), 4, DeadlineUnit.HOURS
    )
    resolve_amount, resolve_unit = _deadline_fields(
        _("resolve deadline"), _("resolve deadline unit"), 5, DeadlineUnit.WORKING_DAYS
    )
    feedback_amount, feedback_unit = _deadline_fields(
        _("feedback deadline"), _("feedback deadline unit"), 3, DeadlineUnit.WORKING_DAYS
    )
    # How far one extension (延期) may move the resolve deadline, and how many a
    # ticket may get.
    extension_amount, extension_unit = _deadline_fields(
        _("extension deadline"), _("extension deadline unit"), 10, DeadlineUnit.WORKING_DAYS
    )
    max_extensions = models.PositiveSmallIntegerField(_("extensions allowed"), default=2)
    # 直派: a text whose routing rules point here with confidence goes to the unit
    # without waiting for a dispatcher.
    auto_dispatch = models.BooleanField(
        _("dispatch directly (直派)"), default=False,
        help_text=_("A text that its routing rules match with confidence is dispatched at once."),
    )
    # What Open311 clients show for the category as a service (its name and group aside).
    description = models.CharField(_("description"), max_length=300, blank=True)
    keywords = models.CharField(
        _("keywords"), max_length=300, blank=True, help_text=_("Comma-separated words that help people find it.")
    )

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(accept_amount__gt=0, claim_amount__gt=0, resolve_amount__gt=0,
                            feedback_amount__gt=0, extension_amount__gt=0),
                name="category_deadlines_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.parent.name} › {self.name}" if self.parent_id and self.parent else self.name

    def deadline(self, stage: str) -> tuple[int, str]:
        """Return (amount, unit) of the stage's deadline policy."""
        return getattr(self, f"{stage}_amount"), getattr(self, f"{stage}_unit")


class CalendarDay(models.Model):
    """A dated exception to Monday-Friday: a statutory holiday or an adjusted workday (调休)."""

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(
        _("working day"), help_text=_("On for an adjusted workday, off for a holiday.")
    )
    name = models.CharField(_("occasion"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("calendar exception")
        verbose_name_plural = _("working calendar")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class AttributeDatatype(models.TextChoices):
    STRING = "string", _("short text")
    NUMBER = "number", _("number")
    DATETIME = "datetime", _("date and time")
    TEXT = "text", _("long text")
    SINGLEVALUELIST = "singlevaluelist", _("one choice from a list")
    MULTIVALUELIST = "multivaluelist", _("several choices from a list")


LIST_DATATYPES = frozenset({AttributeDatatype.SINGLEVALUELIST, AttributeDatatype.MULTIVALUELIST})

attribute_code_validator = RegexValidator(
    r"^[A-Za-z0-9_.-]{1,50}$", _("Use 1-50 letters, digits, underscores, dots and hyphens.")
)


class CategoryAttribute(models.Model):
    """A question a category asks with each report: an attribute of its Open311 service definition.

    The codes and datatypes are the GeoReport v2 spec's, so Open311 clients can build
    their forms from them; a client answers with attribute[CODE] (attribute[CODE][] for
    several choices).
    """

    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.CASCADE, related_name="attributes"
    )
    code = models.CharField(_("code"), max_length=50, validators=[attribute_code_validator])
    # Off for a line of information shown with the form, which asks nothing.
    variable = models.BooleanField(_("asks for an answer"), default=True)
    datatype = models.CharField(_("datatype"), max_length=20, choices=AttributeDatatype.choices)
    required = models.BooleanField(_("required"), default=False)
    datatype_description = models.CharField(
        _("datatype description"), max_length=300, blank=True,
        help_text=_("How to answer, e.g. the unit of a number."),
    )
    order = models.PositiveSmallIntegerField(_("order"), default=1)
    description = models.CharField(_("question"), max_length=300)
    values = models.JSONField(
        _("choices"), default=list, blank=True,
        help_text=_('For the list datatypes: [{"key": "...", "name": "..."}, ...].'),
    )

    class Meta:
        verbose_name = _("service attribute")
        verbose_name_plural = _("service attributes")
        ordering = ["category", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["category", "code"], name="category_attribute_code_once"),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.description}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.datatype not in LIST_DATATYPES:
            if self.values:
                raise ValidationError({"values": _("Only the list datatypes take choices.")})
            return
        values = self.values
        is_pairs = isinstance(values, list) and all(
            isinstance(v, dict) and set(v) == {"key", "name"}
            and all(isinstance(v[f], str) and v[f].strip() for f in ("key", "name"))
            for v in values
        )
        if not values or not is_pairs:
            raise ValidationError({"values": _('Give the choices as [{"key": "...", "name": "..."}, ...].')})
        keys = [v["key"] for v in values]
        if len(set(keys)) != len(keys):
            raise ValidationError({"values": _("Each choice needs a key of its own.")})

    @property
    def choice_names(self) -> dict[str, str]:
        return {v["key"]: v["name"] for v in self.values or []}


class RoutingRule(models.Model):
    """Words that point a text arriving without a category (SMS, Weibo) to this category.

    Each word or phrase found in the text counts one for the rule's category; the
    category with the most, well ahead of the next, is a confident match.
    """

    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.CASCADE, related_name="routing_rules"
    )
    keywords = models.TextField(
        _("words"), help_text=_("Words or phrases, one per line or separated by commas; each found counts."),
    )
    unit = models.ForeignKey(
        Unit, verbose_name=_("unit"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text=_("The unit these words point to, when it is not the category's usual one."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return f"{self.category_id}: {self.keywords[:40]}"

    @property
    def words(self) -> list[str]:
        return [w.strip() for w in self.keywords.replace("，", ",").replace("\n", ",").split(",") if w.strip()]
