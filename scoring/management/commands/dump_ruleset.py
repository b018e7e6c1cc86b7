import json

from django.core.management.base import BaseCommand, CommandError

from scoring.models import RuleSet
from scoring.services import dump_ruleset


class Command(BaseCommand):
    help = "Print the active rule set as JSON (the form load_ruleset reads)."

    def handle(self, *args, **options):
        ruleset = RuleSet.objects.active()
        if ruleset is None:
            raise CommandError("No rule set is active.")
        self.stdout.write(json.dumps(dump_ruleset(ruleset), indent=2, ensure_ascii=False))
