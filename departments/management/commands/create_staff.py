from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from departments.models import Role
from departments.selectors import unit_by_code
from departments.services import staff_upsert


class Command(BaseCommand):
    help = "Create a staff account with a role in a unit, or update it (safe to re-run)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--unit", required=True, help="Unit code.")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", help="Set (or reset) the password.")

    def handle(self, *args, username: str, unit: str, role: str, password: str | None, **options):
        found = unit_by_code(unit)
        if found is None:
            raise CommandError(f"No active unit with code {unit!r}.")
        try:
            user = staff_upsert(username=username, unit=found, role=role, password=password)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"{user.username}: {role} in {found.code} ({found.name}).")
