"""Marketing's own journey in real Chromium: clone the active rule set, change a rule's points
in the admin, publish, and see the leads rescored with it."""

import pytest
from playwright.sync_api import Page, expect

from feedback.roles import MARKETING
from leads.models import Lead
from scoring.models import RuleSet
from scoring.services import load_default_ruleset
from tests.browser import screenshot
from tests.conftest import make_user


@pytest.fixture
def marketer_and_a_lead():
    active = load_default_ruleset(publish=True, sync=True)
    Lead.objects.create(email="dana@northwind-logistics.com", title="VP Marketing")
    return make_user("maria", MARKETING, first_name="Maria", is_staff=True), active


def test_marketing_changes_a_rules_points_and_publishes_them(
    page: Page, log_in, marketer_and_a_lead
):
    marketer, active = marketer_and_a_lead
    senior = active.fit_rules.get(name="Senior title")
    log_in(marketer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rules").click()
    page.get_by_role("link", name=active.name, exact=True).click()
    page.get_by_role("button", name="Clone to draft").click()
    expect(page.locator(".messagelist")).to_contain_text("Created the draft")

    name_input = page.locator("input[name$='-name'][value='Senior title']")
    prefix = name_input.get_attribute("name").removesuffix("-name")
    page.locator(f"input[name='{prefix}-points']").fill(str(senior.points + 10))
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    expect(page.locator(".errornote")).to_have_count(0)
    screenshot(page, "rule-set-draft-edited")

    page.get_by_role("button", name="Publish and rescore").click()
    expect(page.locator(".messagelist")).to_contain_text("Published")
    draft = RuleSet.objects.get(status=RuleSet.Status.ACTIVE)
    assert draft.fit_rules.get(name="Senior title").points == senior.points + 10
    lead = Lead.objects.get()
    assert lead.score.ruleset_version == draft.version
