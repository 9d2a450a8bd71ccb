"""Reads about units and about what a member of staff may do where."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from departments.models import Category, Membership, Role, Unit, UnitKind

# Roles that act on their unit's tickets (claim, return, extension, resolve).
UNIT_ROLES = frozenset({Role.HANDLER, Role.UNIT_ADMIN})


@dataclass(frozen=True)
class StaffScope:
    """What one user's memberships allow: the single source of every scope decision."""

    sees_all: bool
    roles_at_centre: frozenset[str]
    handled_unit_ids: frozenset[int]
    visible_unit_ids: frozenset[int]
    is_superuser: bool = False
    # Where the user is a unit administrator (管理员): the units whose staff they keep.
    administered_unit_ids: frozenset[int] = frozenset()

    @property
    def is_dispatcher(self) -> bool:
        return self.is_superuser or Role.DISPATCHER in self.roles_at_centre

    @property
    def is_operator(self) -> bool:
        return self.is_superuser or bool(self.roles_at_centre & {Role.OPERATOR, Role.DISPATCHER})

    @property
    def sees_tickets(self) -> bool:
        """Whether any ticket is the user's to read (searches, records, statistics)."""
        return self.sees_all or bool(self.visible_unit_ids)

    def handles(self, unit_id: int | None) -> bool:
        return self.is_superuser or (unit_id is not None and unit_id in self.handled_unit_ids)


NO_SCOPE = StaffScope(False, frozenset(), frozenset(), frozenset())


def unit_subtree_ids(unit: Unit) -> set[int]:
    """Return the ids of the unit and every unit below it."""
    return set(Unit.objects.filter(path__startswith=unit.path).values_list("id", flat=True))


def staff_scope(user: AbstractBaseUser | AnonymousUser | None) -> StaffScope:
    """Return the user's scope, computed once per user object (one request, one task)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NO_SCOPE
    cached = getattr(user, "_minhu_scope", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        scope = StaffScope(True, frozenset(), frozenset(), frozenset(), is_superuser=True)
    else:
        memberships = list(
            Membership.objects.filter(user=user, unit__is_active=True).select_related("unit")
        )
        at_centre = frozenset(m.role for m in memberships if m.unit.kind == UnitKind.CENTRE)
        handled = frozenset(m.unit_id for m in memberships if m.role in UNIT_ROLES)
        visible = set(handled)
        for m in memberships:
            if m.role == Role.SUPERVISOR:
                visible |= unit_subtree_ids(m.unit)
        # Everyone working at the centre reads the whole city, including tickets no
        # unit holds yet.
        administered = frozenset(m.unit_id for m in memberships if m.role == Role.UNIT_ADMIN)
        scope = StaffScope(
            bool(at_centre), at_centre, handled, frozenset(visible), administered_unit_ids=administered
        )
    user._minhu_scope = scope
    return scope


def unit_by_code(code: str) -> Unit | None:
    return Unit.objects.filter(code=code, is_active=True).first()


def leaf_categories() -> QuerySet[Category]:
    """Return the categories a ticket may be in: the active ones without subcategories."""
    return (
        Category.objects.filter(is_active=True, children__isnull=True)
        .select_related("parent").order_by("parent__name", "name")
    )


def report_categories() -> list[tuple[str, list[Category]]]:
    """Return the categories a report can take (active leaves), grouped under their parents' names."""
    groups: dict[str, list[Category]] = {}
    for category in leaf_categories():
        groups.setdefault(category.parent.name if category.parent else "", []).append(category)
    return list(groups.items())


WATCH_MEMBER, WATCH_SUBTREE = "member", "subtree"


def unit_watch(user, unit: Unit) -> str | None:
    """How the user may follow a unit's tickets (queue page, unit socket).

    Over its whole subtree for the centre and for a supervisor of it or of a unit above
    it; its own tickets for its handlers and unit admins; otherwise not at all.
    """
    scope = staff_scope(user)
    if scope.sees_all:
        return WATCH_SUBTREE
    supervised = Membership.objects.filter(user=user, role=Role.SUPERVISOR, unit__is_active=True)
    if any(unit.path.startswith(path) for path in supervised.values_list("unit__path", flat=True)):
        return WATCH_SUBTREE
    if unit.id in scope.handled_unit_ids:
        return WATCH_MEMBER
    return None


def watched_units(user) -> list[tuple[Unit, str]]:
    """The units a user follows by membership (the queue page's choices), in tree order."""
    memberships = Membership.objects.filter(
        user=user, unit__is_active=True, role__in=(*UNIT_ROLES, Role.SUPERVISOR)
    ).select_related("unit").order_by("unit__path")
    watched: dict[int, tuple[Unit, str]] = {}
    for m in memberships:
        if m.role == Role.SUPERVISOR or m.unit_id not in watched:
            watched[m.unit_id] = (m.unit, WATCH_SUBTREE if m.role == Role.SUPERVISOR else WATCH_MEMBER)
    return list(watched.values())
