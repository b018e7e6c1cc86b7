"""An SDR's day in real Chromium: the queue in order, a lead and why it scored, dispositions in
place with htmx (no reload), undo, the queue refreshing itself, a conflict said in the row, and
a second SDR who cannot touch the first one's MQLs."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from feedback import services
from feedback.models import Handoff
from feedback.roles import MANAGER, SDR
from leads.models import Account, Activity, Lead
from leads.services import upsert_lead
from scoring.models import ScoreChange
from scoring.services import load_default_ruleset, rescore_leads
from tests.browser import screenshot
from tests.conftest import make_user
from tests.feedback.test_queue import make_handoff, make_lead

ORDER = [
    "Priya Natarajan",
    "Marcus Chen",
    "Dana Whitfield",
    "Jonas Berg",
    "Tom Okafor",
    "Amélie Dubois",
]


def why(*pairs):
    return [
        {"rule": rule, "kind": "behavior", "points": value, "value": value, "activities": []}
        for rule, value in pairs
    ]


def account(name: str, domain: str, industry: str, employees: int) -> Account:
    return Account.objects.create(
        name=name, domain=domain, industry=industry, employee_count=employees, country="US"
    )


@pytest.fixture
def day():
    """Sofia's queue: Dana scored for real (the design's example), the rest written directly so
    the order is exact; Pat's own MQL; one waiting unassigned."""
    load_default_ruleset(publish=True, sync=True)
    sofia = make_user("sofia", SDR, first_name="Sofia", last_name="Diaz")
    pat = make_user("pat", SDR, first_name="Pat", last_name="Lee")
    morgan = make_user("morgan", MANAGER, first_name="Morgan", last_name="Hale", is_staff=True)

    dana, *_ = upsert_lead(
        email="dana@northwind-logistics.com",
        first_name="Dana",
        last_name="Whitfield",
        title="VP Marketing",
        account={
            "domain": "northwind-logistics.com",
            "name": "Northwind Logistics",
            "industry": "Logistics",
            "employee_count": 300,
            "country": "US",
        },
    )
    now = timezone.now()
    # All at once, as an import would: one by one she would pass through A2 first.
    Activity.objects.bulk_create(
        Activity(lead=dana, kind=kind, url=url, occurred_at=now - timedelta(days=days))
        for days, kind, url in [
            (15, "demo_request", ""),
            (22, "page_view", "https://northwind.example/pricing"),
            (9, "page_view", "https://northwind.example/pricing"),
            (1, "page_view", "https://northwind.example/pricing"),
            (10, "email_open", ""),
            (3, "email_open", ""),
            (2, "email_open", ""),
        ]
    )
    rescore_leads([dana.pk], reason=ScoreChange.Reason.ACTIVITY)
    Handoff.objects.filter(lead=dana).update(assigned_to=sofia)
    Lead.objects.filter(pk=dana.pk).update(owner=sofia)
    assert Handoff.objects.get(lead=dana).rank == 1

    globex = account("Globex Logistics", "globex.example", "Logistics", 850)
    people = [
        ("Priya Natarajan", "VP Sales", "Initech", 1, -timedelta(minutes=25), 88,
         [("Demo request", 38), ("Pricing 3+ in 30 days", 24)]),
        ("Marcus Chen", "Head of Operations", None, 1, timedelta(minutes=18), 96,
         [("Free trial", 30), ("Senior title", 20)]),
        ("Jonas Berg", "Director of IT", "Umbrella Fintech", 2, timedelta(hours=2, minutes=40), 74,
         [("Pricing 3+ in 30 days", 22), ("Senior title", 20)]),
        ("Tom Okafor", "CTO", "Hooli", 2, timedelta(hours=3, minutes=50), 66,
         [("Case study or ROI calculator", 27), ("Webinar attended", 18)]),
        ("Amélie Dubois", "Marketing Manager", "Soylent", 3, timedelta(hours=19), 58,
         [("Webinar attended", 19), ("Manager", 8)]),
    ]  # fmt: skip
    for name, title, company, rank, due_in, score, reasons in people:
        acct = (
            globex
            if company is None
            else account(company, f"{company.split()[0].lower()}.example", "Software", 240)
        )
        make_handoff(
            make_lead(name, title=title, account=acct, owner=sofia),
            assigned_to=sofia,
            rank=rank,
            due_in=due_in,
            score=score,
            cell={1: "A1", 2: "A2", 3: "B1"}[rank],
            contributions=why(*reasons),
        )
    make_handoff(make_lead("Lena Fischer", title="VP Finance"), assigned_to=pat, score=91)
    make_handoff(make_lead("Omar Haddad", title="Head of Growth"), score=70, rank=2, cell="A2")
    return {"sofia": sofia, "pat": pat, "morgan": morgan, "dana": dana}


def rows(page: Page):
    return page.locator("#queue-list tr.queue-row")


def row(page: Page, name: str):
    return rows(page).filter(has=page.get_by_role("link", name=name, exact=True))


def test_an_sdr_works_the_queue(page: Page, log_in, day, live_server):
    page.clock.install()  # so the 10 s undo strip and the 30 s poll can be fast-forwarded
    log_in(day["sofia"])

    # The queue, in order: priority (overdue first), then fast track, then standard.
    expect(page).to_have_title("Queue · Leadgauge")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your queue")
    expect(page.locator("#queue-list .lead-name")).to_have_text(ORDER)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name=re.compile(r"^Queue"))).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.locator("#nav-queue-count")).to_contain_text("6")
    priya = row(page, "Priya Natarajan")
    expect(priya.locator(".sla-cell")).to_have_class(re.compile(r"\bsla-late\b"))
    expect(priya.locator(".sla-text")).to_have_text("overdue 25 min")
    expect(row(page, "Marcus Chen").locator(".why-cell")).to_have_text("Free trial, Senior title")
    expect(page.get_by_text("Lena Fischer")).to_have_count(0)  # Pat's
    screenshot(page, "queue-sdr", narrow=True)

    # Open a lead and read why it scored.
    row(page, "Dana Whitfield").get_by_role("link", name="Dana Whitfield").click()
    expect(page).to_have_url(re.compile(rf"/leads/{day['dana'].pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Dana Whitfield")
    why_card = page.get_by_role("region", name=re.compile(r"^Why it scores"))
    expect(why_card.get_by_role("row", name=re.compile(r"^Demo request"))).to_contain_text(
        "40 pts, 15 days ago → 28 pts now"
    )
    expect(why_card.get_by_role("row", name=re.compile(r"^Senior title"))).to_contain_text("+20")
    expect(page.get_by_role("region", name="Activity").locator("li.event")).to_have_count(7)
    expect(page.get_by_role("region", name="Open MQL")).to_be_visible()
    screenshot(page, "lead-sdr", narrow=True)

    # Back to the queue.
    page.go_back()
    expect(page.locator("#queue-list .lead-name")).to_have_text(ORDER)
    page.evaluate("window.stillTheSamePage = true")

    # Accept Dana from the keyboard: the row turns into "Marked accepted · Undo", in place.
    dana = row(page, "Dana Whitfield")
    dana.get_by_role("button", name="Accept").focus()
    page.keyboard.press("Enter")
    strip = page.locator(f"#handoff-{Handoff.objects.get(lead=day['dana']).pk}")
    expect(strip).to_contain_text("Marked accepted")
    expect(strip.get_by_role("button", name="Undo")).to_be_focused()

    # Bad timing for Jonas, with a note.
    jonas = row(page, "Jonas Berg")
    jonas.get_by_placeholder("Note (optional)").fill("Budget frozen until Q3")
    jonas.get_by_role("button", name="Bad timing").click()
    jonas_id = Handoff.objects.get(lead__first_name="Jonas").pk
    expect(page.locator(f"#handoff-{jonas_id}")).to_contain_text("Marked bad timing")
    expect(page.locator(f"#handoff-{jonas_id}")).to_contain_text("Budget frozen until Q3")
    expect(page.locator("#nav-queue-count")).to_contain_text("4")
    screenshot(page, "queue-after-disposition", narrow=True)
    assert Handoff.objects.get(pk=jonas_id).disposition == "bad_timing"
    assert Handoff.objects.get(lead=day["dana"]).disposition == "accepted"

    # Ten seconds later both strips leave; nothing reloaded the page.
    page.clock.fast_forward(11_000)
    expect(page.locator("#queue-list .queue-row.is-done")).to_have_count(0)
    expect(page.locator("#queue-list .lead-name")).to_have_text(
        ["Priya Natarajan", "Marcus Chen", "Tom Okafor", "Amélie Dubois"]
    )
    assert page.evaluate("window.stillTheSamePage") is True

    # A new MQL arrives; the list refreshes itself within 30 s.
    make_handoff(
        make_lead("Grace Hopper", title="VP Engineering"),
        assigned_to=day["sofia"],
        due_in=timedelta(minutes=5),
        score=101,
        contributions=why(("Demo request", 40)),
    )
    page.clock.fast_forward(31_000)
    expect(page.locator("#queue-list .lead-name")).to_have_text(
        ["Priya Natarajan", "Grace Hopper", "Marcus Chen", "Tom Okafor", "Amélie Dubois"]
    )
    expect(page.locator("#nav-queue-count")).to_contain_text("5")
    assert page.evaluate("window.stillTheSamePage") is True

    # The manager decides Marcus meanwhile; Sofia's click is refused with who and when.
    marcus_id = Handoff.objects.get(lead__first_name="Marcus").pk
    services.disposition(marcus_id, user=day["morgan"], outcome="bad_fit")
    row(page, "Marcus Chen").get_by_role("button", name="Accept").click()
    marcus = page.locator(f"#handoff-{marcus_id}")
    expect(marcus.get_by_role("alert")).to_have_text(
        re.compile(r"^Morgan Hale already marked this MQL bad fit at \d\d:\d\d on ")
    )
    expect(marcus.get_by_role("button", name="Accept")).to_have_count(0)
    screenshot(page, "queue-conflict")
    assert Handoff.objects.get(pk=marcus_id).disposition == "bad_fit"


def test_undo_puts_the_row_back(page: Page, log_in, day):
    log_in(day["sofia"])
    tom = row(page, "Tom Okafor")
    tom.get_by_role("button", name="Bad data").click()
    tom_id = Handoff.objects.get(lead__first_name="Tom").pk
    strip = page.locator(f"#handoff-{tom_id}")
    expect(strip).to_contain_text("Marked bad data")

    strip.get_by_role("button", name="Undo").click()

    expect(row(page, "Tom Okafor").get_by_role("status")).to_have_text(
        "Undone: Tom Okafor is back in the queue."
    )
    expect(row(page, "Tom Okafor").get_by_role("button", name="Bad data")).to_be_visible()
    assert Handoff.objects.get(pk=tom_id).is_open


def test_a_second_sdr_cannot_touch_the_first_ones_mqls(
    page: Page, log_in, day, browser: Browser, live_server
):
    log_in(day["pat"])
    expect(page.locator("#queue-list .lead-name")).to_have_text(["Lena Fischer"])
    for name in ORDER:
        expect(page.get_by_text(name)).to_have_count(0)

    # Sofia's lead page does not exist for Pat...
    response = page.goto(f"/leads/{day['dana'].pk}/")
    assert response is not None and response.status == 404

    # ...and a forged request on her MQL is refused, in words, and changes nothing.
    page.goto("/")
    handoff = Handoff.objects.get(lead=day["dana"])
    result = page.evaluate(
        """async (url) => {
            const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
            const response = await fetch(url, {
                method: "POST",
                headers: {"X-CSRFToken": token, "HX-Request": "true",
                          "Content-Type": "application/x-www-form-urlencoded"},
                body: "outcome=bad_fit",
            });
            return {status: response.status, text: await response.text()};
        }""",
        f"{live_server.url}/handoffs/{handoff.pk}/disposition/",
    )
    assert result["status"] == 409
    assert "This MQL is not yours to work." in result["text"]
    assert Handoff.objects.get(pk=handoff.pk).is_open

    # Pat can take the unassigned one, though.
    page.get_by_role("link", name=re.compile(r"^Unassigned")).click()
    omar = row(page, "Omar Haddad")
    omar.get_by_role("button", name="Claim").click()
    expect(omar.get_by_role("status")).to_have_text("Claimed: Omar Haddad is in your queue now.")
    expect(omar.get_by_role("button", name="Accept")).to_be_visible()
    screenshot(page, "queue-pool-claimed", narrow=True)


def test_a_manager_sees_the_team_and_reassigns(page: Page, log_in, day):
    log_in(day["morgan"])
    page.get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Team queue")
    expect(page.locator("#queue-list .lead-name")).to_have_count(7)
    screenshot(page, "queue-team", narrow=True)

    lena = row(page, "Lena Fischer")
    lena.get_by_label("Assign Lena Fischer to").select_option(label="Sofia Diaz")
    lena.get_by_role("button", name="Reassign").click()

    expect(lena.get_by_role("status")).to_have_text("Moved to Sofia Diaz.")
    expect(lena.locator(".sdr-cell")).to_have_text("Sofia Diaz")
    assert Handoff.objects.get(lead__first_name="Lena").assigned_to == day["sofia"]

    # The score is wrong? Flag it from the lead page.
    page.goto(f"/leads/{day['dana'].pk}/")
    flags = page.get_by_role("region", name="Is this score right?")
    flags.get_by_label("too high").check()
    flags.get_by_label("Why").fill("Logistics brokers rarely buy: the industry rule overrates.")
    flags.get_by_role("button", name="Send to marketing").click()
    expect(flags.get_by_role("status")).to_have_text("Thanks: marketing will look at this score.")
    expect(flags).to_contain_text("Logistics brokers rarely buy")
    screenshot(page, "lead-manager-flagged", narrow=True)
