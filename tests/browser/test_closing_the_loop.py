"""Closing the loop in real Chromium: from the calibration dashboard to suggested weights, then
a draft with them, backtested against the active rule set."""

import pytest
from playwright.sync_api import Page, expect

from feedback.roles import MANAGER
from scoring.models import RuleSet
from scoring.services import load_default_ruleset
from tests.browser import screenshot
from tests.conftest import make_user
from tests.feedback.history import plant_rule_evidence


@pytest.fixture
def manager_with_evidence():
    load_default_ruleset(publish=True, sync=True)
    plant_rule_evidence(240)
    return make_user("morgan", MANAGER, first_name="Morgan", last_name="Hale", is_staff=True)


def test_a_manager_turns_suggested_weights_into_a_backtested_draft(
    page: Page, log_in, manager_with_evidence
):
    log_in(manager_with_evidence)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calibration").click()
    page.get_by_role("link", name="Suggest new weights from these dispositions").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("What sales says the rules are worth")
    senior = page.get_by_role("row", name="Senior title")
    expect(senior).to_contain_text("Worth more than its points")
    screenshot(page, "suggested-weights", narrow=True)

    page.get_by_role("button", name="Apply as a draft and backtest it").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("(suggested weights)")
    expect(page.get_by_text("backtesting it now")).to_be_visible()
    expect(page.get_by_role("row", name="Acceptance rate")).to_be_visible()
    expect(page.get_by_role("heading", name="Where the 240 handoffs land")).to_be_visible()
    screenshot(page, "backtest", narrow=True)
    assert RuleSet.objects.filter(status=RuleSet.Status.DRAFT).count() == 1
