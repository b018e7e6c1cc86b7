"""The outcomes CSV (contract §2), on the leads app's streaming importer."""

from leads.imports import CsvImport

from .forms import OutcomeRowForm
from .services import NewOutcome, record_outcomes


class OutcomeImport(CsvImport):
    form_class = OutcomeRowForm
    required = ("email", "type", "occurred_at")

    def write_batch(self, rows) -> None:
        result = record_outcomes(
            [
                NewOutcome(
                    email=data["email"],
                    type=data["type"],
                    occurred_at=data["occurred_at"],
                    amount=data["amount"],
                    external_id=data["external_id"] or None,
                )
                for _, data in rows
            ]
        )
        self.report.created += result.created
        self.report.duplicates += result.duplicates
        self.report.leads_created += result.leads_created
