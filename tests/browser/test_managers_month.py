"""A manager's month in real Chromium: the calibration dashboard, switching months without a
reload, the matrix, and drilling into a cell."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from feedback import calibration
from feedback.roles import MANAGER, SDR
from leads.models import Lead, LeadScore
from scoring.services import load_default_ruleset
from tests.browser import screenshot
from tests.conftest import make_user
from tests.feedback.history import make_handoff


@pytest.fixture
def month():
    """This month: three MQLs (two accepted, one bad fit); last month: one bad timing."""
    load_default_ruleset(publish=True, sync=True)
    sam = make_user("sam", SDR, first_name="Sam", last_name="Reyes")
    morgan = make_user("morgan", MANAGER, first_name="Morgan", last_name="Hale", is_staff=True)
    now = timezone.now()
    current = calibration.month_of(now)
    start = calibration.bounds(current)[0]
    created = max(start, now - timedelta(hours=5))
    make_handoff(
        "ana",
        120,
        "A1",
        "accepted",
        ["Demo request", "Senior title"],
        created_at=created,
        sdr=sam,
        hours_to_decide=1,
    )
    make_handoff(
        "ben",
        95,
        "A1",
        "accepted",
        ["Demo request"],
        created_at=created,
        sdr=sam,
        hours_to_decide=2,
    )
    make_handoff(
        "cy",
        70,
        "B1",
        "bad_fit",
        ["E-mail open"],
        created_at=created,
        sdr=sam,
        hours_to_decide=3,
    )
    make_handoff(
        "dee",
        80,
        "A2",
        "bad_timing",
        ["Webinar attended"],
        created_at=start - timedelta(days=3),
        sdr=sam,
        hours_to_decide=3,
    )
    for email, last in (("ana@example.com", "Alvarez"), ("ben@example.com", "Brooks")):
        Lead.objects.filter(email=email).update(last_name=last, first_name="Lee")
        LeadScore.objects.filter(lead__email=email).update(cell="A1")
    return {"morgan": morgan, "current": current}


def stat(page: Page, label: str):
    return page.locator(".stat").filter(has=page.get_by_text(label, exact=True))


def test_a_manager_reads_the_month_switches_months_and_drills_into_a_cell(
    page: Page, log_in, month
):
    log_in(month["morgan"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calibration").click()

    title = month["current"].strftime("%B %Y")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    acceptance = stat(page, "Acceptance")
    expect(acceptance).to_contain_text("67 %")
    expect(acceptance).to_contain_text("2 of 3 dispositioned")
    expect(page.get_by_role("heading", name="Which rules earn their points")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")
    screenshot(page, "calibration", narrow=True)

    previous = calibration.shift(month["current"], -1)
    page.get_by_role("link", name=f"← {previous:%b %Y}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(previous.strftime("%B %Y"))
    expect(page).to_have_url(f"{page.url.split('/calibration')[0]}/calibration/{previous:%Y-%m}/")
    expect(stat(page, "Acceptance")).to_contain_text("0 of 1 dispositioned")
    assert page.evaluate("window.stillTheSamePage") is True  # swapped by htmx, not reloaded
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Matrix").click()
    a1 = page.locator(".matrix-cell", has_text="A1")
    expect(a1).to_contain_text("MQL — priority")
    expect(a1).to_contain_text("2 MQLs · 100 % accepted")
    screenshot(page, "matrix", narrow=True)

    a1.click()
    cell = page.locator("#cell-leads")
    expect(cell.get_by_role("heading")).to_contain_text("Leads in A1")
    expect(cell.get_by_role("link", name="Lee Alvarez")).to_be_visible()
    expect(page).to_have_url(f"{page.url.split('/matrix')[0]}/matrix/A1/")
    cell.get_by_role("link", name="Name").click()
    expect(cell.locator("tbody th a")).to_have_text(["Lee Alvarez", "Lee Brooks"])
    screenshot(page, "matrix-cell")
