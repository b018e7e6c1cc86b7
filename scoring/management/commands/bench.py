from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoring.bench import DEFAULT_OUTPUT, BenchError, Options, run


class Command(BaseCommand):
    help = (
        "The benchmark of contract §6 on PostgreSQL: generates (once, by COPY) leads and a "
        "year of activities, times the full rescore against a hand-written SQL floor, the "
        "decay pass, API ingest and the pages, and writes the table to BENCHMARKS.md. Point "
        "DATABASE_URL at a database of its own."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--leads", type=int, help="default 1,000,000 (2,000 with --small)")
        parser.add_argument(
            "--activities", type=int, help="default 10,000,000 (20,000 with --small)"
        )
        parser.add_argument("--repeats", type=int, default=3, help="each figure is the median")
        parser.add_argument(
            "--requests", type=int, default=1000, help="single-activity API requests per repeat"
        )
        parser.add_argument(
            "--batches", type=int, default=5, help="API batches of 1,000 per repeat"
        )
        parser.add_argument(
            "--small", action="store_true", help="tiny defaults; allows SQLite (a smoke test)"
        )
        parser.add_argument(
            "--output", type=Path, default=DEFAULT_OUTPUT, help="default BENCHMARKS.md"
        )

    def handle(self, *args, small: bool, **options) -> None:
        leads = options["leads"] or (2_000 if small else 1_000_000)
        activities = options["activities"] or (20_000 if small else 10_000_000)
        if min(leads, activities, options["repeats"], options["requests"], options["batches"]) < 1:
            raise CommandError(
                "--leads, --activities, --repeats, --requests and --batches must be ≥ 1."
            )
        bench_options = Options(
            leads=leads,
            activities=activities,
            repeats=options["repeats"],
            requests=options["requests"],
            batches=options["batches"],
            small=small,
            output=options["output"],
            command=(
                f"python manage.py bench{' --small' if small else ''} --leads {leads} "
                f"--activities {activities} --repeats {options['repeats']}"
            ),
        )
        try:
            report = run(bench_options, self.stdout.write)
        except BenchError as error:
            raise CommandError(str(error)) from error
        self.stdout.write("")
        self.stdout.write(report.table())
        for note in report.notes:
            self.stdout.write(f"- {note}")
        self.stdout.write(f"Written to {bench_options.output}.")
