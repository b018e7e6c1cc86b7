"""The calibration dashboard and the matrix as pages: who may open them, months in the URL,
the htmx swaps, the CSV export, and the figures they show."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feedback import calibration, selectors
from feedback.roles import SDR
from leads.models import Account, Lead, LeadScore
from scoring.services import load_default_ruleset
from tests.conftest import make_user
from tests.feedback.history import make_handoff

pytestmark = pytest.mark.django_db


@pytest.fixture
def this_month(sdr):
    """Two handoffs this month: one accepted (Sam's), one bad fit (unassigned)."""
    load_default_ruleset(publish=True, sync=True)
    start = calibration.bounds(calibration.month_of(timezone.now()))[0]
    created = max(start, timezone.now() - timedelta(hours=3))
    make_handoff(
        "ana",
        120,
        "A1",
        "accepted",
        ["Demo request"],
        created_at=created,
        sdr=sdr,
        hours_to_decide=1,
    )
    make_handoff("bo", 70, "B1", "bad_fit", ["E-mail open"], created_at=created, hours_to_decide=2)


@pytest.mark.parametrize("url", ["/calibration/", "/matrix/", "/matrix/A1/"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", ["/calibration/", "/matrix/"])
def test_a_user_without_a_role_is_refused(client, url):
    client.force_login(make_user("nobody"))
    assert client.get(url).status_code == 403


def test_managers_and_marketing_read_the_teams_month(client, manager, marketer, this_month):
    for user in (manager, marketer):
        client.force_login(user)
        page = client.get("/calibration/").content.decode()
        assert "<h1>" + timezone.localtime().strftime("%B %Y") + "</h1>" in page
        assert "1 of 2 dispositioned" in page
        assert "50 %" in page


def test_an_sdr_reads_only_their_own_month(client, sdr, this_month):
    client.force_login(sdr)
    page = client.get("/calibration/").content.decode()
    assert "your MQLs only" in page
    assert "1 of 1 dispositioned" in page


def test_sdrs_cannot_open_the_matrix(client, sdr):
    client.force_login(sdr)
    assert client.get("/matrix/").status_code == 403
    assert client.get("/matrix/A1/").status_code == 403


@pytest.mark.parametrize("month", ["2999-01", "2026-13", "nonsense", "1999-12"])
def test_a_month_that_has_not_begun_or_is_not_a_month_is_not_found(client, manager, month):
    client.force_login(manager)
    assert client.get(f"/calibration/{month}/").status_code == 404


def test_an_empty_past_month_shows_dashes_not_zeros(client, manager):
    client.force_login(manager)
    page = client.get("/calibration/2025-01/").content.decode()
    assert "January 2025" in page
    assert "No MQL was dispositioned this month" in page
    assert '<dd class="stat-value">—</dd>' in page


def test_switching_months_with_htmx_swaps_the_dashboard_only(client, manager):
    client.force_login(manager)
    response = client.get("/calibration/2025-01/", headers={"HX-Request": "true"})
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="dashboard"')
    assert "<html" not in page
    assert "HX-Request" in response["Vary"]


def test_the_csv_export_has_every_figure_with_its_n(client, manager, this_month):
    client.force_login(manager)
    month = f"{timezone.localtime():%Y-%m}"
    response = client.get(f"/calibration/{month}/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="calibration-{month}.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    summary = {r["figure"]: r for r in rows if r["section"] == "summary"}
    assert (summary["acceptance_rate"]["value"], summary["acceptance_rate"]["n"]) == ("0.5", "2")
    assert {r["name"] for r in rows if r["section"] == "cell"} == {"A1", "B1"}
    assert {r["name"] for r in rows if r["section"] == "rule_month"} == {
        "Demo request",
        "E-mail open",
    }


def test_the_matrix_counts_leads_per_cell_with_their_actions(client, marketer, this_month):
    Lead.objects.create(email="c3@example.com")  # unscored: C3
    LeadScore.objects.filter(lead__email="ana@example.com").update(cell="A1")
    client.force_login(marketer)
    response = client.get("/matrix/")
    cells = {c.cell: c for row in response.context["grid"] for c in row}
    assert [c.cell for row in response.context["grid"] for c in row][:3] == ["A3", "A2", "A1"]
    assert cells["A1"].leads == 1 and cells["A1"].action_label == "MQL — priority"
    assert cells["C3"].leads >= 1 and cells["C3"].action == "exclude"
    # This month's MQLs per cell: A1 had one, accepted.
    assert cells["A1"].month["handoffs"] == 1
    assert cells["A1"].month["acceptance_rate"] == 1
    assert "1 MQL · 100 % accepted" in response.content.decode()


def test_a_cell_lists_its_leads_sorted_and_paged(client, manager):
    load_default_ruleset(publish=True, sync=True)
    for n in range(30):
        Lead.objects.create(email=f"l{n:02}@example.com", last_name=f"L{n:02}")
    LeadScore.objects.filter(lead__email__startswith="l").update(cell="B2")
    for n in range(30):
        LeadScore.objects.filter(lead__email=f"l{n:02}@example.com").update(total_score=n)
    client.force_login(manager)
    first = client.get("/matrix/B2/", headers={"HX-Request": "true"}).content.decode()
    names = re.findall(r'<a href="/leads/\d+/">(L\d\d)</a>', first)
    assert names[:3] == ["L29", "L28", "L27"] and len(names) == 25
    assert "?sort=score&amp;page=2" in first  # a next page
    assert "<html" not in first
    second = client.get("/matrix/B2/?page=2&sort=name", headers={"HX-Request": "true"})
    assert re.findall(r'<a href="/leads/\d+/">(L\d\d)</a>', second.content.decode()) == [
        f"L{n:02}" for n in range(25, 30)
    ]


def test_a_cells_page_is_picked_from_the_leads_before_they_are_joined(manager):
    # Joined first, a large cell's every lead met its account and owner before the sort.
    load_default_ruleset(publish=True, sync=True)
    account = Account.objects.create(name="Northwind", domain="northwind.com")
    for n in range(30):
        Lead.objects.create(email=f"l{n:02}@northwind.com", account=account, owner=manager)
    LeadScore.objects.update(cell="B2")

    with CaptureQueriesContext(connection) as queries:
        page = selectors.cell_leads("B2", page=2)

    assert [lead.account.name for lead in page.rows] == ["Northwind"] * 5
    assert page.has_previous and not page.has_next
    pick, read = [q["sql"] for q in queries.captured_queries]
    assert "JOIN" not in pick and "JOIN" in read


def test_an_unknown_cell_is_not_found_and_a_bad_sort_falls_back_to_score(client, manager):
    client.force_login(manager)
    assert client.get("/matrix/D4/").status_code == 404
    assert client.get("/matrix/A1/?sort=drop+table&page=x").status_code == 200
    assert client.get("/matrix/A1/?page=99999999999999999999").status_code == 200


def test_the_nav_shows_the_dashboards_by_role(client, manager, sdr):
    client.force_login(manager)
    page = client.get("/calibration/").content.decode()
    assert 'href="/matrix/"' in page and 'href="/calibration/"' in page
    client.force_login(make_user("sdr2", SDR))
    page = client.get("/calibration/").content.decode()
    assert 'href="/matrix/"' not in page and 'href="/calibration/"' in page
