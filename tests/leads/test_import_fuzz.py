"""Fuzzing the CSV imports: whatever bytes arrive, an import either reports what it did, each
bad row by line and column, or refuses the file with a reason; it never fails otherwise, and a
file with any bad row (without --skip-errors) writes nothing."""

import io

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from leads.imports import ActivityImport, ImportRefused, LeadImport
from leads.models import Activity, Lead

pytestmark = pytest.mark.django_db

CELLS = st.one_of(
    st.sampled_from(
        ["dana@northwind.com", "DANA@Northwind.com ", "not-an-email", "page_view", "Page View",
         "2026-06-01T10:00Z", "2026-06-01", "1717236000", "1969-12-31T23:59Z", "9999-01-01",
         "300", "-5", "1e400", "NaN", "US", "usa", "", " ", '"', "\x00", "\ufeff", "=cmd()"]
    ),
    st.text(max_size=40),
)  # fmt: skip


def csv_file(header: list[str]) -> st.SearchStrategy[bytes]:
    row = st.lists(CELLS, min_size=0, max_size=len(header) + 2)
    lines = st.lists(row, max_size=6).map(
        lambda rows: "\n".join(
            [",".join(header)] + [",".join(f'"{c.replace(chr(34), chr(34) * 2)}"' for c in r)
                                  for r in rows]
        )
    )  # fmt: skip
    return st.one_of(lines.map(lambda text: text.encode("utf-8", "surrogatepass")), st.binary())


def import_once(importer, data: bytes) -> None:
    with transaction.atomic():
        try:
            report = importer.run(io.BytesIO(data))
        except ImportRefused as refused:
            event("refused")
            assert refused.report.errors, "a refusal says why"
            assert not refused.report.committed
        else:
            event("reported errors" if report.error_count else "imported")
            if report.error_count:
                assert not report.committed
                assert all(error.line >= 1 and error.message for error in report.errors)
                assert (Lead.objects.count(), Activity.objects.count()) == (0, 0)
        transaction.set_rollback(True)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(data=csv_file(["email", "first_name", "title", "company_domain", "employee_count",
                      "country"]))  # fmt: skip
def test_any_leads_file_is_imported_reported_or_refused(data):
    import_once(LeadImport(), data)


@FUZZ
@given(data=csv_file(["email", "kind", "occurred_at", "url", "external_id"]))
def test_any_activities_file_is_imported_reported_or_refused(data):
    import_once(ActivityImport(), data)
