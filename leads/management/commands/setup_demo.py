from django.core.management import call_command
from django.core.management.base import BaseCommand

from leads.models import Lead
from scoring.models import RuleSet
from scoring.services import load_default_ruleset


class Command(BaseCommand):
    help = "First-run set-up for `make run`: the demo data and the default rule set, once."

    def handle(self, *args, **options):
        if not Lead.objects.exists():
            call_command("seed_demo", stdout=self.stdout, stderr=self.stderr)
        if not RuleSet.objects.exists():
            ruleset = load_default_ruleset(publish=True, sync=True)
            self.stdout.write(f"Published the default rule set {ruleset.name!r}; leads scored.")
        self.stdout.write(
            "\nLog in as marketing, manager, sdr1, sdr2, sdr3 or admin; "
            "the password is leadgauge-demo for all of them.\n"
        )
