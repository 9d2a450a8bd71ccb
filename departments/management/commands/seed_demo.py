from django.core.management.base import BaseCommand

from departments.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Load the demo city (centre, 121 units, categories, calendar, demo staff). Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument(
            "--with-passwords", action="store_true",
            help="Give demo accounts the demo password even when DEBUG is off.",
        )

    def handle(self, *args, with_passwords: bool, **options):
        counts = seed_demo(with_passwords=with_passwords or None)
        self.stdout.write(
            f"Demo city ready: {counts['units']} handling units, {counts['categories']} categories, "
            f"{counts['staff']} staff accounts."
        )
        from django.conf import settings

        if with_passwords or settings.DEBUG:
            self.stdout.write(f"Demo logins (demo only): admin, operator, dispatcher, handler, ... / {DEMO_PASSWORD}")
