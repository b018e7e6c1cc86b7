"""`manage.py seed_demo`: demo users, accounts, leads, a year of activity and of sales feedback
(handoffs, dispositions, outcomes) that follows the demo's hidden truth (contract §4)."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from feedback.demo import seed_demo_history
from feedback.models import Disposition
from feedback.roles import SDR
from leads.demo import DEMO_PASSWORD, ensure_demo_users, seed_demo_data
from leads.models import Lead
from scoring.models import RuleSet
from scoring.services import load_default_ruleset

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Create the demo: a login for every role (password leadgauge-demo), accounts, leads, "
        "their activity and the sales feedback on them (handoffs, dispositions, outcomes), the "
        "same for the same --seed. Does nothing when leads exist. The history follows the "
        "active rule set, or the default one, loaded as a draft; scores come from publishing "
        "it (setup_demo does that)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--leads", type=int, default=5000, help="How many leads (5000).")
        parser.add_argument(
            "--months", type=int, default=12, help="How many months of history (12)."
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed (42).")
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even with DEBUG=0 (the demo logins have a published password).",
        )

    def handle(self, *args, leads: int, months: int, seed: int, **options) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "DEBUG is off: this looks like production, and the demo creates an admin "
                "login with a published password. Pass --allow-production to seed anyway."
            )
        if leads < 1:
            raise CommandError("--leads must be at least 1.")
        if not 1 <= months <= 120:
            raise CommandError("--months must be between 1 and 120.")
        # Never mix demo data into a database that already has leads (or seed it twice).
        if Lead.objects.exists():
            self.stdout.write(
                "The demo data is already there (the database has leads); nothing to do."
            )
            return

        self.verbosity = options.get("verbosity", 1)
        started = time.monotonic()
        now = timezone.now()
        with transaction.atomic():
            users = ensure_demo_users()
            sdrs = [user for spec, user, _ in users if spec.role == SDR]
            summary = seed_demo_data(
                n_leads=leads,
                months=months,
                seed=seed,
                sdrs=sdrs,
                now=now,
                progress=lambda done, total: self._progress(done, total, "leads"),
            )
            self._end_progress()
            seeded = time.monotonic() - started
            ruleset = RuleSet.objects.active() or load_default_ruleset(publish=False)
            history = seed_demo_history(
                ruleset=ruleset,
                seed=seed,
                sdrs=sdrs,
                now=now,
                progress=lambda done, total: self._progress(done, total, "leads replayed"),
            )
            self._end_progress()
        elapsed = time.monotonic() - started

        self.stdout.write(f"Demo users (password {DEMO_PASSWORD}):")
        for spec, user, created in users:
            role = spec.role or "superuser"
            note = "" if created else "  (already existed, left unchanged)"
            self.stdout.write(
                f"  {user.username:<10} {role:<10} {user.get_full_name():<18} {user.email}{note}"
            )
        rate = summary.leads / seeded * 60 if seeded else 0
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {summary.leads:,} leads ({summary.owned_leads:,} owned by SDRs), "
                f"{summary.accounts:,} accounts and {summary.activities:,} activities over "
                f"{months} months (seed {seed}) in {seeded:.1f} s, {rate:,.0f} leads/min."
            )
        )
        mix = ", ".join(
            f"{history.dispositions.get(d, 0):,} {d.label.lower()}" for d in Disposition
        )
        outcomes = history.outcomes
        self.stdout.write(
            self.style.SUCCESS(
                f"Sales history under {ruleset}: {history.handoffs:,} handoffs ({mix}; "
                f"{history.open:,} still open), acceptance {history.acceptance_rate:.0%}; "
                f"{outcomes.get('opportunity', 0):,} opportunities, "
                f"{outcomes.get('won', 0):,} won, {outcomes.get('lost', 0):,} lost. "
                f"{elapsed:.1f} s in all."
            )
        )
        if ruleset.status == RuleSet.Status.DRAFT:
            self.stdout.write(f"Publish {ruleset} to score the leads (setup_demo does).")

    def _end_progress(self) -> None:
        if self.verbosity >= 1:
            self.stdout.write("")  # end the progress line

    def _progress(self, done: int, total: int, what: str) -> None:
        if self.verbosity < 1:
            return
        filled = BAR_WIDTH * done // total
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        # \r redraws the one line in place on a terminal.
        self.stdout.write(
            f"\r[{bar}] {100 * done // total:3d}% {done:,}/{total:,} {what}", ending=""
        )
        self.stdout.flush()
