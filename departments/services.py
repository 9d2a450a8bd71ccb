"""Writes to the unit tree and to staff memberships."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from departments.models import CENTRE_ROLES, Membership, Role, Unit, UnitKind


def _path(parent: Unit | None, code: str) -> str:
    return f"{parent.path if parent else '/'}{code}/"


@transaction.atomic
def unit_upsert(
    *, code: str, name: str, kind: str, parent: Unit | None, is_active: bool = True,
    liaison_name: str | None = None, liaison_phone: str | None = None, liaison_email: str | None = None,
) -> Unit:
    """Create or update a unit and keep the materialised paths of its subtree right.

    A liaison field left as None keeps what the unit has.
    """
    if kind == UnitKind.CENTRE and parent is not None:
        raise ValidationError("The dispatch centre is the root of the tree.")
    if kind != UnitKind.CENTRE and parent is None:
        raise ValidationError("Every unit but the dispatch centre has a parent.")
    unit = Unit.objects.select_for_update().filter(code=code).first()
    old_path = unit.path if unit else None
    if unit is None:
        unit = Unit(code=code)
    if parent is not None and parent.path.startswith(old_path or "\0"):
        raise ValidationError("A unit cannot be moved under itself.")
    unit.name, unit.kind, unit.parent, unit.is_active = name, kind, parent, is_active
    contact = {"liaison_name": liaison_name, "liaison_phone": liaison_phone, "liaison_email": liaison_email}
    for field, value in contact.items():
        if value is not None:
            setattr(unit, field, value.strip())
    unit.path = _path(parent, code)
    unit.full_clean(validate_constraints=False)
    unit.save()
    if old_path and old_path != unit.path:
        for child in Unit.objects.filter(path__startswith=old_path).exclude(id=unit.id):
            child.path = unit.path + child.path[len(old_path):]
            child.save(update_fields=["path"])
    return unit


@transaction.atomic
def staff_upsert(
    *, username: str, unit: Unit, role: str, password: str | None = None
) -> AbstractBaseUser:
    """Create the staff account or update it, and give it `role` in `unit`."""
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.")
    if role in CENTRE_ROLES and unit.kind != UnitKind.CENTRE:
        raise ValidationError(f"The {role} role belongs to the dispatch centre, not to {unit.code}.")
    User = get_user_model()
    user, _created = User.objects.get_or_create(username=username, defaults={"is_staff": True})
    user.is_staff = True
    if password:
        user.set_password(password)
    elif _created:
        user.set_unusable_password()
    user.save()
    Membership.objects.get_or_create(user=user, unit=unit, role=role)
    return user
