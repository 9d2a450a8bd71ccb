"""The management commands of the contract: seed_demo and create_staff."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from departments.models import Category, Membership, Unit, UnitKind
from tickets.models import Ticket


@pytest.mark.django_db
def test_seed_demo_builds_the_centre_and_exactly_121_units_and_is_idempotent(settings):
    settings.DEBUG = True
    call_command("seed_demo", "--no-tickets")  # the demo tickets have their own tests (test_demo.py)
    call_command("seed_demo", "--no-tickets")
    assert Unit.objects.filter(kind=UnitKind.CENTRE).count() == 1
    assert Unit.objects.exclude(kind=UnitKind.CENTRE).count() == 121
    assert Unit.objects.filter(kind=UnitKind.DISTRICT).count() == 13
    leaves = Category.objects.filter(parent__isnull=False)
    assert 38 <= leaves.count() <= 44
    assert Category.objects.filter(parent__isnull=True).count() >= 8
    assert all(c.default_unit_id for c in leaves.filter(routing="functional"))
    street = Unit.objects.get(code="wuchang-zhongnan")
    assert street.path == "/centre/wuchang/wuchang-zhongnan/"
    for role in ["operator", "dispatcher", "handler", "unit_admin", "supervisor"]:
        assert Membership.objects.filter(role=role).exists()
    assert get_user_model().objects.get(username="dispatcher").check_password("minhu-demo")


@pytest.mark.django_db
def test_seed_demo_without_debug_leaves_demo_accounts_without_a_usable_password(settings):
    settings.DEBUG = False
    call_command("seed_demo")
    assert not get_user_model().objects.get(username="dispatcher").has_usable_password()
    assert not get_user_model().objects.filter(username="admin").exists()
    assert not Ticket.objects.exists()  # production loads its city with seed_demo, never made-up tickets


@pytest.mark.django_db
def test_create_staff_creates_then_updates(city):
    call_command("create_staff", "liu", "--unit", "water-group", "--role", "handler", "--password", "s3cret-pw")
    call_command("create_staff", "liu", "--unit", "power-supply", "--role", "handler", "--password", "n3w-pw-x")
    user = get_user_model().objects.get(username="liu")
    assert user.check_password("n3w-pw-x") and user.is_staff
    assert set(user.memberships.values_list("unit__code", flat=True)) == {"water-group", "power-supply"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--unit", "nowhere", "--role", "handler"], "No active unit"),
        (["--unit", "water-group", "--role", "dispatcher"], "dispatch centre"),
    ],
)
def test_create_staff_refuses_unknown_units_and_misplaced_roles(city, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_staff", "wang", *args)
    assert not get_user_model().objects.filter(username="wang").exists()
