from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from tickets import datagen
from tickets.models import Ticket


class Command(BaseCommand):
    help = (
        "Replace the tickets with N generated ones over the last year, with full histories, "
        "deadlines and the cards the deadline sweep would have raised, written in bulk inside "
        "PostgreSQL (1,000,000 in a couple of minutes). Needs PostgreSQL and the demo city's "
        "units and categories: run seed_demo first. It deletes every ticket already there, "
        "with its events, cards, notices and extension requests: a database holding tickets "
        "needs --replace."
    )

    def add_arguments(self, parser):
        parser.add_argument("count", type=int, help="tickets to generate")
        parser.add_argument("--seed", type=int, default=0,
                            help="the same seed gives the same tickets (default 0)")
        parser.add_argument("--open-tickets", type=int, metavar="M",
                            help="exactly M open, the rest finished (default: about a fifth open)")
        parser.add_argument("--replace", action="store_true",
                            help="delete the tickets already in the database")

    def handle(self, *args, count: int, seed: int, open_tickets: int | None, replace: bool, **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                f"generate_tickets needs PostgreSQL (this database is {connection.vendor}): "
                "set DATABASE_URL to a PostgreSQL database."
            )
        if count < 1:
            raise CommandError("Give a number of tickets of at least 1.")
        if open_tickets is not None and not 0 <= open_tickets <= count:
            raise CommandError(f"--open-tickets must be between 0 and {count:,}.")
        missing = datagen.missing_city()
        if missing:
            raise CommandError(
                f"The database lacks {len(missing)} of the demo city's units and categories "
                f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): "
                "run `python manage.py seed_demo` first."
            )
        existing = Ticket.objects.count()
        if existing and not replace:
            raise CommandError(
                f"The database holds {existing:,} tickets; --replace deletes them (with their "
                "events, cards and notices) and generates the new ones."
            )
        try:
            made = datagen.generate(count, open_tickets=open_tickets, seed=seed, out=self.stdout.write)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Generated {made['tickets']:,} tickets, {made['events']:,} events and "
            f"{made['alerts']:,} cards in {made['total']:.1f} s (load {made['load']:.1f} s, "
            f"indexes {made['indexing']:.1f} s, vacuum and analyze {made['analyze']:.1f} s)."
        )
        shape = datagen.describe()
        self.stdout.write("  " + ", ".join(f"{state} {rows:,}" for state, rows in shape))
