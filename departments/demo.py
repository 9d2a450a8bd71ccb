"""Load the demo city: the centre, 121 handling units, categories, the calendar, demo staff,
and (for the demo only) two weeks of tickets."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from departments import calendar, demo_data
from departments.models import Category, CategoryAttribute, RoutingRule, UnitKind
from departments.services import staff_upsert, unit_upsert

DEMO_PASSWORD = "minhu-demo"
# Every demo ticket takes this access code, so any of them can be tracked (demo only).
DEMO_ACCESS_CODE = "20201234"


@transaction.atomic
def seed_demo(*, with_passwords: bool | None = None, with_tickets: bool | None = None) -> dict[str, int]:
    """Create or update the demo data; safe to run again. Return what it holds.

    Demo accounts get the demo password only in DEBUG (or when asked), so a production
    database seeded by mistake has no account anyone can guess. Demo tickets, likewise,
    only in DEBUG (or when asked), and only into a database that has no tickets yet:
    production loads its units and categories with this command, never made-up tickets.
    """
    if with_passwords is None:
        with_passwords = settings.DEBUG
    if with_tickets is None:
        with_tickets = settings.DEBUG
    centre = unit_upsert(code=demo_data.CENTRE[0], name=demo_data.CENTRE[1], kind=UnitKind.CENTRE, parent=None)
    units = {centre.code: centre}
    for code, name, streets in demo_data.DISTRICTS:
        district = unit_upsert(code=code, name=name, kind=UnitKind.DISTRICT, parent=centre)
        units[code] = district
        for street_code, street_name in streets:
            units[street_code] = unit_upsert(
                code=street_code, name=street_name, kind=UnitKind.STREET, parent=district
            )
    for kind, rows in ((UnitKind.BUREAU, demo_data.BUREAUS), (UnitKind.UTILITY, demo_data.UTILITIES)):
        for code, name in rows:
            units[code] = unit_upsert(code=code, name=name, kind=kind, parent=centre)

    # Demo liaisons (reserved 1990000xxxx numbers, example.org mail) so reminders and
    # escalations have somewhere to go; a liaison staff set in the admin is kept.
    for index, unit in enumerate(sorted(units.values(), key=lambda u: u.code)):
        if not unit.liaison_phone:
            unit.liaison_name = "值班联络员"
            unit.liaison_phone = f"1990000{index:04d}"
            unit.liaison_email = f"{unit.code}@units.example.org"
            unit.save(update_fields=["liaison_name", "liaison_phone", "liaison_email"])

    leaves = 0
    for group_code, group_name, children in demo_data.CATEGORIES:
        group, _ = Category.objects.update_or_create(
            code=group_code, defaults={"name": group_name, "parent": None}
        )
        for code, name, routing, default_unit, deadlines in children:
            fields = {"name": name, "parent": group, "routing": routing,
                      "default_unit": units.get(default_unit) if default_unit else None}
            for stage, (amount, unit) in deadlines.items():
                fields[f"{stage}_amount"], fields[f"{stage}_unit"] = amount, unit
            fields["auto_dispatch"] = code in demo_data.AUTO_DISPATCH
            category, _ = Category.objects.update_or_create(code=code, defaults=fields)
            leaves += 1
            # Rules staff have set in the admin are kept.
            if code in demo_data.ROUTING_WORDS and not RoutingRule.objects.filter(category=category).exists():
                RoutingRule.objects.create(category=category, keywords=demo_data.ROUTING_WORDS[code])
            for order, (attr_code, datatype, required, question, hint, choices) in enumerate(
                demo_data.CATEGORY_ATTRIBUTES.get(code, []), start=1
            ):
                CategoryAttribute.objects.update_or_create(category=category, code=attr_code, defaults={
                    "datatype": datatype, "required": required, "description": question,
                    "datatype_description": hint, "order": order,
                    "values": [{"key": key, "name": name} for key, name in choices],
                })

    calendar.seed_from_chinese_calendar()

    password = DEMO_PASSWORD if with_passwords else None
    for username, unit_code, role in demo_data.STAFF:
        staff_upsert(username=username, unit=units[unit_code], role=role, password=password)
    if with_passwords:
        User = get_user_model()
        admin, _ = User.objects.get_or_create(username="admin")
        admin.is_staff = admin.is_superuser = True
        admin.set_password(DEMO_PASSWORD)
        admin.save()
    tickets = 0
    if with_tickets:
        from tickets.demo import seed_demo_tickets

        tickets = seed_demo_tickets(access_code=DEMO_ACCESS_CODE if with_passwords else None)
    return {"units": len(units) - 1, "categories": leaves, "staff": len(demo_data.STAFF), "tickets": tickets}
