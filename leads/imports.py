"""Streaming CSV imports (contract §2): validate every row, write in batches, rescore once.

A file is read row by row and written in batches, so a million-row activities file never sits
in memory. Without `skip_errors` one bad row imports nothing: the whole import is one
transaction, rolled back at the end when any row failed, after every row has been checked so
the report lists all of them.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from django import forms
from django.core.exceptions import ValidationError
from django.db import reset_queries, transaction
from openpyxl import load_workbook

from scoring.models import ScoreChange
from scoring.services import refresh_planner_statistics, rescore_all, rescore_leads

from .forms import ActivityRowForm, LeadRowForm
from .services import NewActivity, ingest_activities, upsert_lead

BATCH_SIZE = 2000
MAX_REPORTED_ERRORS = 1000
# Past this many affected leads one pass over every lead is cheaper than lists of ids.
RESCORE_ALL_ABOVE = 100_000
ANALYZE_ABOVE = 10_000
csv.field_size_limit(1_000_000)


@dataclass
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    skipped: int = 0
    leads_created: int = 0
    leads_rescored: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    warnings: list[str] = field(default_factory=list)
    committed: bool = False

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)


class ImportRefused(Exception):
    """The file as a whole cannot be read: empty, not UTF-8, a wrong header."""

    def __init__(self, report: ImportReport):
        self.report = report
        super().__init__("; ".join(str(e) for e in report.errors))


class CsvImport:
    """One kind of CSV file: its row form, its columns, and how a batch of rows is written."""

    form_class: type[forms.Form]
    required: tuple[str, ...]

    def __init__(
        self,
        *,
        skip_errors: bool = False,
        dry_run: bool = False,
        progress: Callable[[float], None] | None = None,
    ):
        self.skip_errors = skip_errors
        self.dry_run = dry_run
        self.progress = progress
        self.report = ImportReport()
        self.affected: set[int] = set()
        self.rescore_everything = False

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.form_class.base_fields)

    def write_batch(self, rows: list[tuple[int, dict]]) -> None:
        """Store a batch of valid rows, given as (line, cleaned data)."""
        raise NotImplementedError

    def run(self, binary: IO[bytes]) -> ImportReport:
        """Import the file; raises ImportRefused when nothing could be read."""
        size = _size_of(binary)
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        header = self._read_header(reader)
        with transaction.atomic():
            self._import_rows(reader, header, lambda: binary.tell() / size if size else 1)
            failed = self.report.error_count and not self.skip_errors
            if failed or self.dry_run:
                # A dry run writes for real, so its counts are exact, then rolls back.
                transaction.set_rollback(True)
            else:
                self._rescore()
                self.report.committed = True
        return self.report

    def _refuse(self, message: str, line: int = 1, column: str = "") -> ImportRefused:
        self.report.add_error(RowError(line, column, message))
        return ImportRefused(self.report)

    def _read_header(self, reader) -> list[str]:
        try:
            header = next(reader, None)
        except UnicodeDecodeError as error:
            raise self._refuse("The file is not UTF-8 text (save it as CSV UTF-8).") from error
        except csv.Error as error:
            raise self._refuse(f"The header cannot be read: {error}.") from error
        if not header or not any(cell.strip() for cell in header):
            raise self._refuse("The file is empty: the first line must name the columns.")
        names = [cell.strip().lower() for cell in header]
        repeated = sorted({n for n in names if names.count(n) > 1 and n})
        missing = [c for c in self.required if c not in names]
        unknown = [n for n in names if n and n not in self.columns]
        if repeated:
            raise self._refuse(f"Columns named more than once: {', '.join(repeated)}.")
        if missing:
            raise self._refuse(
                f"Required column{'s' if len(missing) > 1 else ''} missing: {', '.join(missing)}. "
                f"The columns are: {', '.join(self.columns)}."
            )
        if unknown:
            message = (
                f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
                f"The columns are: {', '.join(self.columns)}."
            )
            if not self.skip_errors:
                raise self._refuse(message)
            self.report.warnings.append(message + " Their values were not imported.")
        return names

    def _rows(self, reader, header: list[str]) -> Iterator[tuple[int, dict | RowError]]:
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                yield (
                    reader.line_num + 1,
                    RowError(
                        reader.line_num + 1,
                        "",
                        "Not UTF-8 text; the rest of the file was not read.",
                    ),
                )
                return
            except csv.Error as error:
                yield (
                    reader.line_num,
                    RowError(reader.line_num, "", f"{error}; the rest of the file was not read."),
                )
                return
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue  # blank lines, e.g. at the end of a file
            if len(values) > len(header):
                yield (
                    line,
                    RowError(
                        line,
                        "",
                        f"{len(values)} values for {len(header)} columns (a stray comma?).",
                    ),
                )
                continue
            # Missing trailing cells are blank, as spreadsheets often save them.
            yield (
                line,
                {
                    name: value.strip()
                    for name, value in zip(header, values, strict=False)
                    if name in self.columns
                },
            )

    def _import_rows(self, reader, header, fraction: Callable[[], float]) -> None:
        batch: list[tuple[int, dict]] = []
        # One form, re-bound to each row: building a form copies all its fields, which for a
        # million rows costs more than the validation itself.
        form = self.form_class()
        for line, row in self._rows(reader, header):
            self.report.rows += 1
            if isinstance(row, RowError):
                self._reject(row)
                continue
            form.data, form.is_bound, form._errors = row, True, None
            if not form.is_valid():
                for column, messages in form.errors.items():
                    self._reject(RowError(line, column, " ".join(messages)))
                continue
            batch.append((line, form.cleaned_data))
            if len(batch) >= BATCH_SIZE:
                self._flush(batch, fraction)
                batch = []
        self._flush(batch, fraction)

    def _reject(self, error: RowError) -> None:
        self.report.add_error(error)
        self.report.skipped += 1

    def _flush(self, batch, fraction) -> None:
        # After the first error (without skip_errors) rows are only checked, never written.
        if batch and (self.skip_errors or not self.report.error_count):
            self.write_batch(batch)
        # With DEBUG on, Django keeps every query's text; a million-row import must not.
        reset_queries()
        if self.progress:
            self.progress(fraction())

    def affect(self, lead_ids) -> None:
        if self.rescore_everything:
            return
        self.affected.update(lead_ids)
        if len(self.affected) > RESCORE_ALL_ABOVE:
            self.rescore_everything, self.affected = True, set()

    def _rescore(self) -> None:
        reason = ScoreChange.Reason.ACTIVITY
        if self.report.created > ANALYZE_ABOVE:
            # The planner has not seen this transaction's rows yet; without fresh statistics it
            # may pick nested loops that are quadratic in the rows just imported.
            refresh_planner_statistics()
        if self.rescore_everything:
            self.report.leads_rescored = rescore_all(reason=reason)
            return
        ids = sorted(self.affected)
        for start in range(0, len(ids), 5000):
            rescore_leads(ids[start : start + 5000], reason=reason)
        self.report.leads_rescored = len(ids)


def _size_of(binary: IO[bytes]) -> int:
    try:
        position = binary.tell()
        binary.seek(0, io.SEEK_END)
        size = binary.tell()
        binary.seek(position)
    except (OSError, ValueError):
        return 0
    return size


class LeadImport(CsvImport):
    form_class = LeadRowForm
    required = ("email",)

    def write_batch(self, rows) -> None:
        for line, data in rows:
            try:
                with transaction.atomic():
                    lead, created, changed = upsert_lead(
                        email=data["email"],
                        account=LeadRowForm.account_fields(data),
                        rescore=False,
                        **LeadRowForm.lead_fields(data),
                    )
            except ValidationError as error:
                for column, messages in error.message_dict.items():
                    self._reject(RowError(line, column, " ".join(messages)))
                continue
            self.report.created += created
            self.report.updated += changed and not created
            self.report.unchanged += not changed
            if changed:
                # The account may be shared: its other leads score on its fields too.
                self.affect(
                    lead.account.leads.values_list("pk", flat=True) if lead.account else [lead.pk]
                )


class ActivityImport(CsvImport):
    form_class = ActivityRowForm
    required = ("email", "kind", "occurred_at")

    def write_batch(self, rows) -> None:
        items = [
            NewActivity(
                email=data["email"],
                kind=data["kind"],
                occurred_at=data["occurred_at"],
                url=data["url"],
                source=data["source"],
                external_id=data["external_id"] or None,
            )
            for _, data in rows
        ]
        result = ingest_activities(items, rescore=False)
        self.report.created += result.created
        self.report.duplicates += result.duplicates
        self.report.leads_created += result.leads_created
        self.affect(result.lead_ids)


def xlsx_as_csv(binary: IO[bytes]) -> IO[bytes]:
    """The first sheet of an XLSX workbook as CSV bytes, streamed row by row."""
    try:
        workbook = load_workbook(binary, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zipfile, KeyError and its own errors alike
        report = ImportReport()
        report.add_error(RowError(1, "", f"Not a readable XLSX workbook ({error})."))
        raise ImportRefused(report) from error
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (returned)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    for row in workbook.worksheets[0].iter_rows(values_only=True):
        writer.writerow(["" if cell is None else _cell_text(cell) for cell in row])
    workbook.close()
    text.detach()
    out.seek(0)
    return out


def _cell_text(cell) -> str:
    if hasattr(cell, "isoformat"):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)
