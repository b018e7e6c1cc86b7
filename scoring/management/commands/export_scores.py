import csv
import json

from django.core.management.base import BaseCommand

from scoring.selectors import score_rows

COLUMNS = [
    "email",
    "fit_score",
    "interest_score",
    "total_score",
    "fit_tier",
    "interest_tier",
    "cell",
    "action",
    "disqualified",
    "stage",
]


class Command(BaseCommand):
    help = "Every lead's stored score, ordered by e-mail, as CSV (default) or JSON."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args, format: str, **options):
        rows = score_rows()
        if format == "json":
            self.stdout.write(json.dumps([{c: row[c] for c in COLUMNS} for row in rows]))
            return
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([self.csv_value(row[c]) for c in COLUMNS])

    @staticmethod
    def csv_value(value) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return f"{value:.2f}"
        return str(value)
