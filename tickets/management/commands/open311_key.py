from django.core.management.base import BaseCommand, CommandError

from tickets.errors import TicketError
from tickets.intake.open311_services import open311_key_create


class Command(BaseCommand):
    help = (
        "Create an Open311 API key for a client (a FixMyStreet install, a city app) and print it. "
        "The key is shown this once and stored hashed; revoke it in the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the client the key is for, e.g. fixmystreet")

    def handle(self, *args, name: str, **options):
        try:
            key, raw = open311_key_create(name=name)
        except TicketError as error:
            raise CommandError(error.detail) from None
        # The key alone on standard output, so a script can take it.
        self.stdout.write(raw)
        self.stderr.write(f"Open311 key for {key.name} (starts with {key.prefix}); it is not shown again.")
