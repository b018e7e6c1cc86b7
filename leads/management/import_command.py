"""The shared shape of import_leads, import_activities and import_outcomes (contract §2)."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leads.imports import CsvImport, ImportRefused, ImportReport

BAR_WIDTH = 30


class ImportCommand(BaseCommand):
    importer: type[CsvImport]
    noun: str

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--skip-errors", action="store_true", help="Import the good rows, report the bad."
        )

    def handle(self, *args, file: Path, skip_errors: bool, **options):
        show_progress = options.get("verbosity", 1) >= 1 and sys.stderr.isatty()
        importer = self.importer(
            skip_errors=skip_errors, progress=self._progress if show_progress else None
        )
        try:
            with file.open("rb") as binary:
                report = importer.run(binary)
        except FileNotFoundError as error:
            raise CommandError(f"{file}: no such file.") from error
        except IsADirectoryError as error:
            raise CommandError(f"{file} is a folder, not a CSV file.") from error
        except ImportRefused as refused:
            raise CommandError(self._errors(refused.report, f"{file} was refused")) from refused
        if show_progress:
            self.stderr.write("")
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        if not report.committed:
            raise CommandError(self._errors(report, f"{file}: nothing was imported"))
        if report.error_count:
            self.stderr.write(self._errors(report, f"{report.skipped} bad rows were skipped"))
        self.stdout.write(self._summary(report))

    def _progress(self, fraction: float) -> None:
        done = round(fraction * BAR_WIDTH)
        self.stderr.write(f"\r[{'#' * done}{'.' * (BAR_WIDTH - done)}] {fraction:4.0%}", ending="")
        self.stderr.flush()

    @staticmethod
    def _errors(report: ImportReport, heading: str) -> str:
        lines = [f"{heading}:"] + [f"  {error}" for error in report.errors]
        hidden = report.error_count - len(report.errors)
        if hidden > 0:
            lines.append(f"  … and {hidden} more problems")
        return "\n".join(lines)

    def _summary(self, report: ImportReport) -> str:
        parts = [f"{report.rows} rows", f"{report.created} {self.noun} created"]
        if report.updated or report.unchanged:
            parts.append(f"{report.updated} updated, {report.unchanged} unchanged")
        parts.append(f"{report.duplicates} duplicates ignored")
        if report.leads_created:
            parts.append(f"{report.leads_created} new leads")
        if report.skipped:
            parts.append(f"{report.skipped} rows skipped")
        parts.append(f"{report.leads_rescored} leads rescored")
        return "Imported: " + ", ".join(parts) + "."
