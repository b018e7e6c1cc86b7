from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scoring.models import RuleSet, ScoreChange
from scoring.services import start_rescore, vacuum_scores


def parse_instant(value: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"--as-of {value!r} is not an ISO 8601 date and time.") from error
    if timezone.is_naive(instant):
        instant = timezone.make_aware(instant, timezone.get_current_timezone())
    return instant


class Command(BaseCommand):
    help = (
        "Rescore every lead with the active rule set: as Celery tasks by lead-id range, or in "
        "this process with --sync. --as-of stores scores as of that instant."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=parse_instant, help="ISO 8601, e.g. 2026-06-01T00:00Z")
        parser.add_argument("--sync", action="store_true", help="Run here instead of on Celery.")

    def handle(self, *args, as_of, sync, **options):
        ruleset = RuleSet.objects.active()
        if ruleset is None:
            raise CommandError("No rule set is active: load one with load_ruleset --publish.")

        def progress(run):
            self.stdout.write(
                f"\r{run.progress_percent:3d}% {run.done_chunks}/{run.total_chunks} chunks, "
                f"{run.leads_changed} leads changed",
                ending="",
            )
            self.stdout.flush()

        run = start_rescore(
            ruleset, reason=ScoreChange.Reason.RESCORE, as_of=as_of, sync=sync, progress=progress
        )
        if sync:
            self.stdout.write(f"\nRescored with {ruleset}: {run.leads_changed} leads changed.")
            vacuum_scores()  # as the worker that finishes a run does (see rescore_chunk_now)
        else:
            self.stdout.write(
                f"Queued {run.total_chunks} chunks on Celery (run {run.pk}); "
                "progress shows in the admin under Rescore runs."
            )
