import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from feedback.models import Outcome
from leads.models import Activity, Lead
from leads.resources import LeadScoreResource
from scoring.services import load_default_ruleset, rescore_leads

pytestmark = pytest.mark.django_db

ACTIVITIES = (
    b"email,kind,occurred_at,url,source,external_id\n"
    b"dana@northwind.com,demo_request,2026-06-01T10:00:00Z,,web,e1\n"
    b"dana@northwind.com,page_view,2026-06-01T10:05:00Z,/pricing,web,e2\n"
)


@pytest.fixture
def marketing_client(client, marketer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(marketer)
    return client


def upload(client, url_name, content, name="data.csv", **extra):
    url = reverse(url_name)
    return client.post(url, {"file": SimpleUploadedFile(name, content), **extra})


def test_the_preview_writes_nothing_and_confirming_imports(marketing_client):
    preview = upload(marketing_client, "admin:leads_activity_import", ACTIVITIES)
    html = preview.content.decode()
    assert "nothing has been written yet" in html and "Confirm import" in html
    assert preview.context["report"].created == 2
    assert not Activity.objects.exists() and not Lead.objects.exists()

    done = marketing_client.post(reverse("admin:leads_activity_import"), {"confirm": "1"})
    assert done.status_code == 302
    assert Activity.objects.count() == 2


def test_a_bad_row_is_shown_with_line_and_column_and_cannot_be_confirmed(marketing_client):
    content = ACTIVITIES + b"oops,page_view,2026-06-01T10:00:00Z,,web,e3\n"
    preview = upload(marketing_client, "admin:leads_activity_import", content)
    html = preview.content.decode()
    assert "<td>4</td><td>email</td><td>Enter a valid email address.</td>" in html
    assert "Confirm import" not in html
    marketing_client.post(reverse("admin:leads_activity_import"), {"confirm": "1"})
    assert not Activity.objects.exists()


def test_skipping_bad_rows_imports_the_rest(marketing_client):
    content = ACTIVITIES + b"oops,page_view,2026-06-01T10:00:00Z,,web,e3\n"
    upload(marketing_client, "admin:leads_activity_import", content, skip_errors="on")
    marketing_client.post(reverse("admin:leads_activity_import"), {"confirm": "1"})
    assert Activity.objects.count() == 2


def test_xlsx_is_imported_like_csv(marketing_client):
    book = Workbook()
    sheet = book.active
    sheet.append(["email", "title", "employee_count"])
    sheet.append(["dana@northwind.com", "VP Marketing", 300])
    data = io.BytesIO()
    book.save(data)
    upload(marketing_client, "admin:leads_lead_import", data.getvalue(), name="leads.xlsx")
    marketing_client.post(reverse("admin:leads_lead_import"), {"confirm": "1"})
    lead = Lead.objects.get()
    assert (lead.title, lead.account.employee_count) == ("VP Marketing", 300)


def test_a_file_that_is_not_a_workbook_is_refused_clearly(marketing_client):
    preview = upload(marketing_client, "admin:leads_lead_import", b"garbage", name="x.xlsx")
    assert "Not a readable XLSX workbook" in preview.content.decode()


def test_other_file_types_are_refused(marketing_client):
    preview = upload(marketing_client, "admin:leads_lead_import", b"%PDF", name="leads.pdf")
    assert "Upload a .csv or .xlsx file." in preview.content.decode()


def test_outcomes_have_their_own_import(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    content = b"email,type,occurred_at,amount\ndana@northwind.com,won,2026-06-01T00:00Z,5000\n"
    upload(admin_client, "admin:feedback_outcome_import", content)
    admin_client.post(reverse("admin:feedback_outcome_import"), {"confirm": "1"})
    assert Outcome.objects.get().amount == 5000


def test_sdrs_cannot_import(client, sdr, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    sdr.is_staff = True
    sdr.save()
    client.force_login(sdr)
    upload(client, "admin:leads_activity_import", ACTIVITIES)
    assert not Activity.objects.exists()


def test_leads_export_with_their_scores(admin_client):
    load_default_ruleset(publish=True, sync=True)
    Lead.objects.create(email="kim@gmail.com", title="Student")
    rescore_leads(Lead.objects.values_list("pk", flat=True), reason="rescore")
    columns = LeadScoreResource().get_export_order()
    response = admin_client.post(
        reverse("admin:leads_lead_export"),
        {"format": "0", "resource": "0", **{f"leadscoreresource_{c}": "on" for c in columns}},
    )
    body = response.content.decode()
    assert body.splitlines()[0].startswith("email,first_name,last_name,title,company")
    assert "kim@gmail.com" in body and "-45.00" in body and "exclude" in body
