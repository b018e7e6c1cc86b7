from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.services import create_token


class Command(BaseCommand):
    help = "Create an API token and print it once (only its hash is kept)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who will use it, e.g. 'Website tracking'.")
        parser.add_argument("--user", help="Record this username as the token's creator.")

    def handle(self, *args, name: str, user: str | None = None, **options):
        if not name.strip():
            raise CommandError("Give the token a name.")
        creator = None
        if user:
            try:
                creator = get_user_model().objects.get_by_natural_key(user)
            except get_user_model().DoesNotExist:
                raise CommandError(f"No user {user!r}.") from None
        token, secret = create_token(name, user=creator)
        # The secret alone on standard output, so `TOKEN=$(manage.py create_api_token x)` works.
        self.stdout.write(secret)
        self.stderr.write(
            f"Created API token {token.name!r} ({token.prefix}…). "
            "Store it now: it cannot be shown again."
        )
