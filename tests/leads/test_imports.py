import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from feedback.models import Outcome
from leads.models import Account, Activity, Lead
from scoring.services import load_default_ruleset

pytestmark = pytest.mark.django_db

ACTIVITIES = (
    "email,kind,occurred_at,url,source,external_id\n"
    "dana@northwind.com,demo_request,2026-06-01T10:00:00Z,,web,e1\n"
    "dana@northwind.com,page_view,2026-06-01T10:05:00+02:00,/pricing,web,e2\n"
    "new@prospect.io,email_open,2026-06-02 09:00,,marketo,\n"
)
LEADS = (
    "email,first_name,last_name,title,source,company_name,company_domain,industry,"
    "employee_count,country,technologies\n"
    "Dana@Northwind.com,Dana,Whitfield,VP Marketing,webinar,Northwind,northwind.com,Software,"
    "300,us,Salesforce; HubSpot\n"
    "kim@gmail.com,Kim,Lee,Student,website,Campus Lab,,Education,12,GB,\n"
)


def write(tmp_path: Path, content: str | bytes, name: str = "data.csv") -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def run(command: str, path: str, *args: str) -> str:
    out = io.StringIO()
    call_command(command, path, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def counts() -> tuple[int, int, int, int]:
    return (
        Lead.objects.count(),
        Account.objects.count(),
        Activity.objects.count(),
        Outcome.objects.count(),
    )


def test_leads_import_upserts_with_accounts_and_scores(tmp_path):
    load_default_ruleset(publish=True, sync=True)
    output = run("import_leads", write(tmp_path, LEADS))
    assert "2 leads created" in output
    dana = Lead.objects.get(email="dana@northwind.com")
    assert (dana.account.domain, dana.account.country) == ("northwind.com", "US")
    assert dana.account.technologies == ["Salesforce", "HubSpot"]
    assert dana.score.fit_score == 20 + 15 + 15 + 5
    kim = Lead.objects.get(email="kim@gmail.com")
    # Free-mail: the company is kept on an account without a domain, so size still counts.
    assert (kim.account.name, kim.account.domain, kim.account.employee_count) == (
        "Campus Lab",
        None,
        12,
    )
    assert kim.score.fit_score == -25 - 10 - 20


def test_importing_the_same_files_twice_changes_nothing(tmp_path):
    load_default_ruleset(publish=True, sync=True)
    leads, activities = write(tmp_path, LEADS, "l.csv"), write(tmp_path, ACTIVITIES, "a.csv")
    run("import_leads", leads)
    run("import_activities", activities)
    before = (counts(), list(Lead.objects.values_list("email", "score__total_score", "updated_at")))
    run("import_leads", leads)
    output = run("import_activities", activities)
    assert "0 activities created" in output and "3 duplicates ignored" in output
    assert (
        counts(),
        list(Lead.objects.values_list("email", "score__total_score", "updated_at")),
    ) == (before)


def test_activities_create_unknown_leads_and_read_times_in_the_site_zone(tmp_path, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    run("import_activities", write(tmp_path, ACTIVITIES))
    assert Lead.objects.get(email="new@prospect.io").account is None
    opened = Activity.objects.get(kind="email_open")
    assert opened.occurred_at == datetime(2026, 6, 2, 7, 0, tzinfo=UTC)
    assert Activity.objects.get(external_id="e2").occurred_at == datetime(
        2026, 6, 1, 8, 5, tzinfo=UTC
    )


def test_one_bad_row_imports_nothing_and_every_bad_row_is_reported(tmp_path):
    content = ACTIVITIES + (
        "not-an-email,page_view,2026-06-01T10:00Z,,web,e9\n"
        "eve@rival.com,Page View,yesterday,,web,e10\n"
    )
    with pytest.raises(CommandError) as error:
        run("import_activities", write(tmp_path, content))
    message = str(error.value)
    assert "nothing was imported" in message
    assert "line 5, column email: Enter a valid email address." in message
    assert "line 6, column kind:" in message and "line 6, column occurred_at:" in message
    assert counts() == (0, 0, 0, 0)


def test_skip_errors_imports_the_good_rows_and_reports_the_bad(tmp_path):
    content = ACTIVITIES + "not-an-email,page_view,2026-06-01T10:00Z,,web,e9\n"
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_activities", write(tmp_path, content), "--skip-errors", stdout=out, stderr=err
    )
    assert Activity.objects.count() == 3
    assert "line 5, column email" in err.getvalue()
    assert "1 rows skipped" in out.getvalue()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "The file is empty"),
        (b"\n\n", "The file is empty"),
        (
            b"mail,kind,occurred_at\nx@y.com,page_view,2026-06-01T10:00Z\n",
            "Required column missing: email",
        ),
        (
            b"email,kind,occurred_at,colour\nx@y.com,page_view,2026-06-01T10:00Z,teal\n",
            "Unknown column: colour",
        ),
        (b"email,email,kind,occurred_at\n", "Columns named more than once: email"),
        (
            "email,kind,occurred_at\nzoë@y.com,page_view,2026-06-01T10:00Z\n".encode("latin-1"),
            "not UTF-8",
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_the_reason(tmp_path, content, expected):
    with pytest.raises(CommandError, match=expected):
        run("import_activities", write(tmp_path, content))
    assert counts() == (0, 0, 0, 0)


def test_a_bom_and_windows_line_endings_are_fine(tmp_path):
    content = "\ufeff" + ACTIVITIES.replace("\n", "\r\n")
    run("import_activities", write(tmp_path, content.encode("utf-8")))
    assert Activity.objects.count() == 3


def test_a_row_with_too_many_values_is_refused(tmp_path):
    content = "email,kind,occurred_at\nx@y.com,page_view,2026-06-01T10:00Z,surplus\n"
    with pytest.raises(CommandError, match="line 2: 4 values for 3 columns"):
        run("import_activities", write(tmp_path, content))


def test_a_huge_row_is_refused_not_crashed_on(tmp_path):
    content = "email,kind,occurred_at,url\nx@y.com,page_view,2026-06-01T10:00Z," + "a" * 5000
    with pytest.raises(CommandError, match="line 2, column url: Ensure this value has at most"):
        run("import_activities", write(tmp_path, content + "\n"))
    giant = 'email,kind,occurred_at,url\nx@y.com,page_view,2026-06-01T10:00Z,"' + "a" * 2_000_000
    with pytest.raises(CommandError, match="field larger than field limit"):
        run("import_activities", write(tmp_path, giant + '"\n'))
    assert counts() == (0, 0, 0, 0)


def test_a_duplicated_lead_row_updates_the_same_lead(tmp_path):
    content = "email,title\ndana@northwind.com,Director\nDANA@northwind.com,VP Marketing\n"
    run("import_leads", write(tmp_path, content))
    assert list(Lead.objects.values_list("email", "title")) == [
        ("dana@northwind.com", "VP Marketing")
    ]


def test_a_future_activity_is_refused(tmp_path):
    content = "email,kind,occurred_at\nx@y.com,page_view,2099-01-01T00:00Z\n"
    with pytest.raises(CommandError, match="More than 24 hours in the future"):
        run("import_activities", write(tmp_path, content))


def test_an_activity_before_1970_is_refused_by_line_and_column(tmp_path):
    content = "email,kind,occurred_at\nx@y.com,page_view,1969-12-31T23:00Z\n"
    with pytest.raises(CommandError, match="line 2, column occurred_at: Before 1970"):
        run("import_activities", write(tmp_path, content))
    assert counts() == (0, 0, 0, 0)


def test_bad_lead_values_are_named_by_column(tmp_path):
    content = "email,employee_count,country,company_domain\na@b.com,many,USA,https://b.com/\n"
    with pytest.raises(CommandError) as error:
        run("import_leads", write(tmp_path, content))
    message = str(error.value)
    assert "column employee_count: Enter a whole number." in message
    assert "column country:" in message and "column company_domain:" in message
    assert counts() == (0, 0, 0, 0)


def test_outcomes_import_is_idempotent_on_external_id(tmp_path):
    content = (
        "email,type,occurred_at,amount,external_id\n"
        "dana@northwind.com,opportunity,2026-06-10T00:00Z,12000,opp-1\n"
        "dana@northwind.com,won,2026-07-01T00:00Z,12000.50,won-1\n"
    )
    path = write(tmp_path, content)
    run("import_outcomes", path)
    output = run("import_outcomes", path)
    assert "0 outcomes created" in output and "2 duplicates ignored" in output
    assert Outcome.objects.count() == 2


def test_an_unknown_outcome_type_is_refused(tmp_path):
    content = "email,type,occurred_at\ndana@northwind.com,signed,2026-06-10T00:00Z\n"
    with pytest.raises(CommandError, match="column type: Must be opportunity, won or lost"):
        run("import_outcomes", write(tmp_path, content))
    assert counts() == (0, 0, 0, 0)


def test_a_missing_file_is_named():
    with pytest.raises(CommandError, match="no such file"):
        run("import_leads", "/nonexistent.csv")
