"""/leads/<id>/: why it scored in a rep's words, the timeline, the account, the MQL history,
"this score is wrong", the same buttons as the queue; and who may open it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from feedback.models import Handoff, ScoreFlag
from feedback.roles import SDR
from leads.models import Activity, Lead
from leads.services import record_activity, upsert_lead
from scoring.services import load_default_ruleset
from tests.conftest import make_user
from tests.feedback.test_queue import make_handoff, make_lead

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}
NORTHWIND = {
    "domain": "northwind.com",
    "name": "Northwind",
    "industry": "Software",
    "employee_count": 300,
    "country": "US",
}


@pytest.fixture
def ruleset(db):
    return load_default_ruleset(publish=True, sync=True)


@pytest.fixture
def other_sdr(db):
    return make_user("pat", SDR, first_name="Pat", last_name="Lee")


@pytest.fixture
def dana(ruleset, sdr):
    """The design's Dana, scored for real: an A1 MQL with a handoff assigned to Sam."""
    lead, *_ = upsert_lead(
        email="dana@northwind.com",
        first_name="Dana",
        last_name="Whitfield",
        title="VP Marketing",
        account=NORTHWIND,
    )
    now = timezone.now()
    for days, kind, url in [
        (15, "demo_request", ""),
        (1, "page_view", "https://northwind.example/pricing"),
        (9, "page_view", "https://northwind.example/pricing"),
        (22, "page_view", "https://northwind.example/pricing"),
        (2, "email_open", ""),
        (3, "email_open", ""),
        (10, "email_open", ""),
        (40, "email_open", ""),
    ]:
        record_activity(lead=lead, kind=kind, url=url, occurred_at=now - timedelta(days=days))
    # Round-robin may have picked another SDR made by a test's fixtures: make it Sam's.
    Handoff.objects.filter(lead=lead).update(assigned_to=sdr)
    Lead.objects.filter(pk=lead.pk).update(owner=sdr)
    lead.refresh_from_db()
    return lead


def test_it_explains_the_score_in_words_a_rep_understands(client, sdr, dana):
    client.force_login(sdr)

    response = client.get(f"/leads/{dana.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Dana Whitfield</h1>" in html
    # Fit rules: name and points.
    assert (
        '<th scope="row">Senior title</th><td class="detail"></td><td class="num">+20</td>' in html
    )
    assert '<th scope="row">50-500 employees</th>' in html
    # Behavior rules: the points, when, and what is left of them now.
    assert "40 pts, 15 days ago → 28 pts now" in html
    # Pricing 3+ in 30 days: the latest visit carries the points.
    assert "25 pts, yesterday → 24 pts now · 3 times: yesterday, 9 and 22 days ago" in html
    assert "3 × 1 pt, 2, 3 and 10 days ago → 2.7 pts now" in html
    rows = response.context["data"].interest_rows
    assert [r.rule for r in rows] == ["Demo request", "Pricing 3+ in 30 days", "E-mail open"]
    assert "Interest fades by half every 30 days" in html


def test_it_shows_the_timeline_newest_first_with_what_counts(client, sdr, dana):
    client.force_login(sdr)

    response = client.get(f"/leads/{dana.pk}/")

    activities = response.context["data"].activities
    assert [a.occurred_at for a in activities] == sorted(
        (a.occurred_at for a in activities), reverse=True
    )
    assert len(activities) == 8
    demo = next(a for a in activities if a.kind == "demo_request")
    assert round(demo.points_now) == 28
    old_open = min((a for a in activities if a.kind == "email_open"), key=lambda a: a.occurred_at)
    assert old_open.points_now is None  # beyond the three most recent
    assert "<strong>Demo request</strong>" in response.content.decode()


def test_a_long_timeline_is_paged(client, sdr, dana):
    now = timezone.now()
    Activity.objects.bulk_create(
        Activity(
            lead=dana, kind="page_view", url=f"/blog/{i}", occurred_at=now - timedelta(hours=i)
        )
        for i in range(1, 150)
    )
    client.force_login(sdr)

    page = client.get(f"/leads/{dana.pk}/")
    assert len(page.context["data"].activities) == 100
    assert b"Show older activity" in page.content

    older = client.get(f"/leads/{dana.pk}/?activities=2", headers=HX).content.decode()
    assert older.count('<li class="event') == 57
    assert "Show older activity" not in older


def test_it_shows_the_account_and_its_other_leads(client, sdr, dana):
    other, *_ = upsert_lead(
        email="lee@northwind.com", first_name="Lee", last_name="Chen", title="Analyst"
    )
    client.force_login(sdr)

    html = client.get(f"/leads/{dana.pk}/").content.decode()

    assert "<strong>Northwind</strong>" in html and "northwind.com" in html
    assert "Software" in html and "300" in html
    assert "Lee Chen" in html
    # Sam neither owns Lee nor has a handoff for Lee: no link to a page he cannot open.
    assert f'href="/leads/{other.pk}/"' not in html


def test_it_lists_past_handoffs_with_who_decided_and_the_note(client, manager, sdr, dana):
    current = Handoff.objects.get(lead=dana)
    Handoff.objects.filter(pk=current.pk).update(
        disposition="bad_timing",
        note="Budget frozen until spring",
        dispositioned_by=sdr,
        dispositioned_at=timezone.now() - timedelta(days=40),
        created_at=timezone.now() - timedelta(days=41),
    )
    make_handoff(dana, assigned_to=sdr)
    client.force_login(manager)

    html = client.get(f"/leads/{dana.pk}/").content.decode()

    assert "Bad timing</span> by Sam Reyes" in html
    assert "“Budget frozen until spring”" in html
    assert "Open, with Sam Reyes" in html


def test_the_open_handoff_has_the_queues_buttons_aimed_at_the_panel(client, sdr, dana):
    client.force_login(sdr)
    handoff = Handoff.objects.get(lead=dana)

    html = client.get(f"/leads/{dana.pk}/").content.decode()
    assert 'id="handoff-panel"' in html
    assert ">Accept</button>" in html and ">Bad timing</button>" in html
    assert 'hx-target="#handoff-panel"' in html

    response = client.post(
        f"/handoffs/{handoff.pk}/disposition/",
        {"outcome": "accepted", "where": "lead", "note": "demo booked"},
        headers=HX,
    )
    panel = response.content.decode()
    assert panel.lstrip().startswith('<section id="handoff-panel"')
    assert "Marked <strong>accepted</strong>" in panel and ">Undo</button>" in panel
    later = client.get(f"/handoffs/{handoff.pk}/row/?where=lead", headers=HX).content.decode()
    assert "MQL decided" in later and "Accepted</span>" in later and "“demo booked”" in later


def test_marketing_reads_the_page_without_buttons(client, marketer, dana):
    client.force_login(marketer)
    html = client.get(f"/leads/{dana.pk}/").content.decode()
    assert "Why it scores" in html
    assert ">Accept</button>" not in html
    assert "Send to marketing" not in html


def test_an_sdr_cannot_open_another_sdrs_lead(client, other_sdr, dana):
    client.force_login(other_sdr)
    assert client.get(f"/leads/{dana.pk}/").status_code == 404
    assert client.get(f"/leads/{dana.pk}/?activities=2", headers=HX).status_code == 404
    assert client.post(f"/leads/{dana.pk}/flag/", {"direction": "too_high"}).status_code == 404


def test_an_unknown_lead_is_the_same_404(client, other_sdr, dana):
    client.force_login(other_sdr)
    assert client.get("/leads/999999/").status_code == 404


def test_an_sdr_opens_pool_leads_and_leads_they_own(client, other_sdr, ruleset):
    pooled = make_lead("Pooled Lead")
    make_handoff(pooled)
    owned = make_lead("Owned Lead", owner=other_sdr)
    stranger = make_lead("Someone Else")
    client.force_login(other_sdr)

    assert client.get(f"/leads/{pooled.pk}/").status_code == 200
    assert client.get(f"/leads/{owned.pk}/").status_code == 200
    assert client.get(f"/leads/{stranger.pk}/").status_code == 404


def test_managers_and_marketing_open_any_lead(client, manager, marketer, ruleset):
    lead = make_lead("Anyone")
    for user in (manager, marketer):
        client.force_login(user)
        assert client.get(f"/leads/{lead.pk}/").status_code == 200


def test_flagging_a_score_creates_a_flag_with_the_score_and_handoff(client, sdr, dana):
    client.force_login(sdr)

    response = client.post(
        f"/leads/{dana.pk}/flag/",
        {"direction": "too_high", "reason": "  Her company is a reseller, not a buyer.  "},
        headers=HX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="flags"')
    assert "Thanks: marketing will look at this score." in html
    assert "Her company is a reseller, not a buyer." in html
    flag = ScoreFlag.objects.get()
    assert (flag.lead, flag.direction, flag.flagged_by) == (dana, "too_high", sdr)
    assert flag.reason == "Her company is a reseller, not a buyer."
    assert flag.total_score == pytest.approx(Lead.objects.get(pk=dana.pk).score.total_score)
    assert flag.handoff == Handoff.objects.get(lead=dana)


def test_a_flag_needs_a_direction_and_a_reason(client, sdr, dana):
    client.force_login(sdr)
    response = client.post(f"/leads/{dana.pk}/flag/", {"reason": ""}, headers=HX)
    assert response.status_code == 422
    assert b"Say whether the score is too high or too low." in response.content
    assert b"Say why, so marketing can fix the rule." in response.content
    assert not ScoreFlag.objects.exists()


def test_marketing_cannot_flag(client, marketer, dana):
    client.force_login(marketer)
    response = client.post(
        f"/leads/{dana.pk}/flag/", {"direction": "too_low", "reason": "x"}, headers=HX
    )
    assert response.status_code == 403
    assert not ScoreFlag.objects.exists()


def test_without_a_rule_set_the_page_says_so(client, manager):
    lead = make_lead("Unscored")
    client.force_login(manager)
    assert b"No rule set is active" in client.get(f"/leads/{lead.pk}/").content


def test_the_back_link_keeps_the_queue_filters(client, sdr, dana):
    client.force_login(sdr)
    html = client.get(f"/leads/{dana.pk}/?from=%3Fclass%3Dpriority").content.decode()
    assert 'href="/?class=priority"' in html
    html = client.get(f"/leads/{dana.pk}/?from=https://evil.example/").content.decode()
    assert 'class="back-link"><a href="/"' in html
