from django.conf import settings
from django.core.management.base import BaseCommand

from departments.demo import DEMO_ACCESS_CODE, DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = (
        "Load the demo city (centre, 121 units, categories, calendar, demo staff) and, in DEBUG, "
        "two weeks of demo tickets when the database has none. Safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--with-passwords", action="store_true",
            help="Give demo accounts the demo password even when DEBUG is off.",
        )
        tickets = parser.add_mutually_exclusive_group()
        tickets.add_argument(
            "--with-tickets", action="store_true", dest="with_tickets", default=None,
            help="Add the demo tickets even when DEBUG is off (only into a database with no tickets).",
        )
        tickets.add_argument(
            "--no-tickets", action="store_false", dest="with_tickets",
            help="Load the city only, without demo tickets, even in DEBUG.",
        )

    def handle(self, *args, with_passwords: bool, with_tickets: bool | None, **options):
        counts = seed_demo(with_passwords=with_passwords or None, with_tickets=with_tickets)
        self.stdout.write(
            f"Demo city ready: {counts['units']} handling units, {counts['categories']} categories, "
            f"{counts['staff']} staff accounts."
        )
        if counts["tickets"]:
            self.stdout.write(f"Demo tickets: {counts['tickets']} over the last two weeks.")
        if with_passwords or settings.DEBUG:
            self.stdout.write(f"Demo logins (demo only): admin, operator, dispatcher, handler, ... / {DEMO_PASSWORD}")
            from tickets.demo import demo_tracking_example

            example = demo_tracking_example(DEMO_ACCESS_CODE)
            if example is not None:
                self.stdout.write(
                    f"Track a demo ticket: /track/{example.number}/ with the access code {DEMO_ACCESS_CODE}."
                )
