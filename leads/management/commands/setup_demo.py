"""`manage.py setup_demo`: what `make run` does once - the demo data and an active rule set."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from feedback.services import close_finished_months
from leads.models import Lead
from scoring.models import RuleSet, ScoreChange
from scoring.services import load_default_ruleset, publish_ruleset, start_rescore


class Command(BaseCommand):
    help = "First-run set-up for `make run`: the demo data and the default rule set, once."

    def handle(self, *args, **options):
        seeded = False
        if not Lead.objects.exists():
            # The wrapped streams: through self.stdout, each progress redraw became a new line.
            out, err = (getattr(s, "_out", s) for s in (self.stdout, self.stderr))
            call_command("seed_demo", stdout=out, stderr=err)
            seeded = True
        active = RuleSet.objects.active()
        # seed_demo leaves the rule set its sales history was scored with as a draft.
        history = (
            RuleSet.objects.filter(status=RuleSet.Status.DRAFT, handoffs__isnull=False)
            .distinct()
            .order_by("-version")
            .first()
        )
        if active is None and history is not None:
            publish_ruleset(history, sync=True)
            self.stdout.write(f"Published the rule set {history.name!r}; leads scored.")
        elif not RuleSet.objects.exists():
            ruleset = load_default_ruleset(publish=True, sync=True)
            self.stdout.write(f"Published the default rule set {ruleset.name!r}; leads scored.")
        elif active is not None and seeded:
            start_rescore(active, reason=ScoreChange.Reason.RESCORE, sync=True)
            self.stdout.write(f"Scored the demo leads with the active rule set {active.name!r}.")
        if seeded:
            # The demo's past months, closed as the daily beat task would have closed them.
            closed = close_finished_months()
            self.stdout.write(f"Closed {len(closed)} months of calibration figures.")
        self.stdout.write(
            "\nLog in as marketing, manager, sdr1, sdr2, sdr3 or admin; "
            "the password is leadgauge-demo for all of them.\n"
        )
