"""Logging in and out, per role, in real Chromium against the live server."""

import re

import pytest
from playwright.sync_api import Page, expect

from feedback.roles import MANAGER, MARKETING, SDR
from scoring.services import clone_ruleset, load_default_ruleset
from tests.browser import screenshot
from tests.conftest import make_user

LOGIN_PAGE = re.compile(r"/accounts/login/$")
LOGIN_PAGE_FOR_HOME = re.compile(r"/accounts/login/\?next=/$")


def nav(page: Page):
    return page.get_by_role("navigation", name="Main")


def has_session(page: Page) -> bool:
    return any(cookie["name"] == "sessionid" for cookie in page.context.cookies())


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(LOGIN_PAGE)
    assert not has_session(page)
    page.goto("/")
    expect(page).to_have_url(LOGIN_PAGE_FOR_HOME)


def test_it_sends_an_anonymous_visitor_to_the_login_page(page: Page):
    page.goto("/")

    expect(page).to_have_url(LOGIN_PAGE_FOR_HOME)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_focused()
    expect(nav(page)).to_have_count(0)
    screenshot(page, "login", narrow=True)


def test_it_refuses_a_wrong_password_and_opens_no_session(page: Page):
    make_user("sofia", SDR, first_name="Sofia", last_name="Diaz")
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("sofia")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_have_text(
        "That username and password don't match. Try again."
    )
    expect(page.get_by_label("Username")).to_have_value("sofia")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_label("Password")).to_be_focused()
    assert not has_session(page)
    screenshot(page, "login-error", narrow=True)

    page.goto("/")
    expect(page).to_have_url(LOGIN_PAGE_FOR_HOME)


def test_an_sdr_lands_on_their_queue_without_the_rules_and_logs_out(page: Page, log_in):
    sofia = make_user("sofia", SDR, first_name="Sofia", last_name="Diaz")

    log_in(sofia)

    expect(page).to_have_title("Queue · Leadgauge")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your queue")
    expect(page.locator(".user-name")).to_have_text("Sofia Diaz")
    expect(page.locator(".role-badge")).to_have_text("SDR")
    expect(nav(page).get_by_role("link", name=re.compile(r"^Queue"))).to_have_attribute(
        "aria-current", "page"
    )
    expect(nav(page).get_by_role("link", name="Rules")).to_have_count(0)
    expect(nav(page).get_by_role("link", name="Admin")).to_have_count(0)
    expect(page.get_by_text("No rule set is active yet.")).to_be_visible()
    screenshot(page, "home-sdr", narrow=True)

    log_out(page)


def test_marketing_opens_the_rule_sets_from_the_nav(page: Page, log_in):
    ruleset = load_default_ruleset(publish=True, sync=True)
    maria = make_user("maria", MARKETING, first_name="Maria", last_name="Lopez", is_staff=True)

    log_in(maria)

    expect(page.locator(".role-badge")).to_have_text("Marketing")
    expect(page.get_by_text(f"Scoring with {ruleset.name} version 1")).to_be_visible()
    screenshot(page, "home-marketing", narrow=True)

    nav(page).get_by_role("link", name="Rules").click()

    expect(page).to_have_url(re.compile(r"/admin/scoring/ruleset/$"))
    expect(page.get_by_role("heading", name="Select rule set to change")).to_be_visible()
    screenshot(page, "admin-ruleset-list")

    page.get_by_role("link", name=ruleset.name).click()

    expect(page).to_have_url(re.compile(rf"/admin/scoring/ruleset/{ruleset.pk}/change/$"))
    matrix = page.locator("table.matrix-table")
    expect(matrix.locator("td.action-mql_priority")).to_have_text(re.compile(r"^A1\s*MQL — prio"))
    expect(matrix.locator("td.action-exclude")).to_have_text(re.compile(r"^C3\s*Exclude$"))
    screenshot(page, "admin-ruleset-change")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "admin-ruleset-change-dark")
    page.emulate_media(color_scheme="light")

    page.goto("/")
    log_out(page)


def test_a_manager_sees_the_rules_and_the_admin(page: Page, log_in):
    morgan = make_user("morgan", MANAGER, first_name="Morgan", is_staff=True)

    log_in(morgan)

    expect(page.locator(".role-badge")).to_have_text("Manager")
    expect(page.get_by_text("No rule set is active yet")).to_be_visible()
    expect(nav(page).get_by_role("link", name="Rules")).to_be_visible()
    expect(nav(page).get_by_role("link", name="Admin")).to_be_visible()
    log_out(page)


@pytest.mark.parametrize(("role", "staff"), [(SDR, False), (MARKETING, True), (MANAGER, True)])
def test_every_link_in_the_top_bar_opens_for(page: Page, log_in, role, staff):
    """Each role sees only links it may open: none leads to a login page or an error."""
    log_in(make_user("someone", role, is_staff=staff))
    links = nav(page).get_by_role("link")
    targets = [links.nth(i).get_attribute("href") for i in range(links.count())]

    for target in targets:
        response = page.goto(target)
        assert response is not None
        assert response.ok, f"{target} answered {response.status}"
        assert "login" not in page.url, f"{target} sent {role} to {page.url}"


def test_a_draft_shows_clone_and_publish_under_the_form(page: Page, log_in):
    draft = clone_ruleset(load_default_ruleset(publish=True, sync=True))
    log_in(make_user("maria", MARKETING, first_name="Maria", is_staff=True))

    page.goto(f"/admin/scoring/ruleset/{draft.pk}/change/")

    actions = page.locator(".ruleset-actions")
    expect(actions.get_by_role("button", name="Clone to draft")).to_be_visible()
    expect(actions.get_by_role("button", name="Publish and rescore")).to_be_visible()
    screenshot(page, "admin-ruleset-draft")


def test_marketing_clones_the_active_rule_set_with_the_button(page: Page, log_in):
    ruleset = load_default_ruleset(publish=True, sync=True)
    log_in(make_user("maria", MARKETING, first_name="Maria", is_staff=True))
    page.goto(f"/admin/scoring/ruleset/{ruleset.pk}/change/")

    clone = page.get_by_role("button", name="Clone to draft")
    assert clone.evaluate("button => button.form !== null"), "the button belongs to no form"
    clone.click()

    expect(page.locator(".messagelist")).to_contain_text("Created the draft")
