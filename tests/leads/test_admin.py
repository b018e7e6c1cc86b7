import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Account, Activity, Lead, LeadScore
from scoring.services import load_default_ruleset

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored_lead():
    load_default_ruleset(publish=True, sync=True)
    account = Account.objects.create(name="Northwind", domain="northwind.com", employee_count=10)
    return Lead.objects.create(email="dana@northwind.com", title="Analyst", account=account)


def lead_form(lead, **changes):
    data = {
        "email": lead.email,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "title": lead.title,
        "account": lead.account_id or "",
        "owner": "",
        "source": "",
        "external_id": "",
        "created_at_0": "2026-01-01",
        "created_at_1": "10:00:00",
        "attributes": "{}",
        "stage": lead.stage,
    }
    data.update(changes)
    return data


def test_editing_a_leads_title_in_the_admin_rescores_it(admin_client, scored_lead):
    url = reverse("admin:leads_lead_change", args=[scored_lead.pk])
    response = admin_client.post(url, lead_form(scored_lead, title="VP Sales"))
    assert response.status_code == 302
    scored_lead.refresh_from_db()
    assert scored_lead.score.fit_score == 20 - 10  # senior title, under 20 employees


def test_editing_an_account_rescores_its_leads(admin_client, scored_lead):
    account = scored_lead.account
    url = reverse("admin:leads_account_change", args=[account.pk])
    response = admin_client.post(
        url,
        {
            "name": account.name,
            "domain": account.domain,
            "industry": "Software",
            "employee_count": "300",
            "annual_revenue": "",
            "country": "US",
            "technologies": "[]",
            "funding_stage": "",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00:00",
            "leads-TOTAL_FORMS": "1",
            "leads-INITIAL_FORMS": "1",
            "leads-MIN_NUM_FORMS": "0",
            "leads-MAX_NUM_FORMS": "1000",
            "leads-0-id": str(scored_lead.pk),
            "leads-0-account": str(account.pk),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    scored_lead.refresh_from_db()
    assert scored_lead.score.fit_score == 15 + 15 + 5  # 50-500 employees, target industry, US


def test_an_activity_added_in_the_admin_rescores_its_lead(admin_client, scored_lead):
    when = timezone.localtime() - timedelta(minutes=5)
    response = admin_client.post(
        reverse("admin:leads_activity_add"),
        {
            "lead": scored_lead.pk,
            "kind": "demo_request",
            "occurred_at_0": f"{when:%Y-%m-%d}",
            "occurred_at_1": f"{when:%H:%M:%S}",
            "url": "",
            "properties": "{}",
            "source": "admin",
            "external_id": "",
        },
    )
    assert response.status_code == 302
    scored_lead.refresh_from_db()
    assert scored_lead.score.interest_score == pytest.approx(40, abs=0.1)


def test_a_future_activity_is_refused_in_the_admin(admin_client, scored_lead):
    when = timezone.localtime() + timedelta(days=3)
    response = admin_client.post(
        reverse("admin:leads_activity_add"),
        {
            "lead": scored_lead.pk,
            "kind": "demo_request",
            "occurred_at_0": f"{when:%Y-%m-%d}",
            "occurred_at_1": f"{when:%H:%M:%S}",
            "url": "",
            "properties": "{}",
            "source": "",
            "external_id": "",
        },
    )
    assert response.status_code == 200
    assert "More than 24 hours in the future" in response.content.decode()
    assert not Activity.objects.exists()


# The lists at scale: filters with known choices, ranges for dates, searches on indexes -------


def listed(response) -> list[str]:
    return [lead.email for lead in response.context["cl"].result_list]


def test_the_lead_list_filters_by_cell_and_tiers_and_ignores_unknown_values(admin_client):
    ann = Lead.objects.create(email="ann@acme.com")
    LeadScore.objects.filter(lead=ann).update(cell="A1", fit_tier="A", interest_tier=1)
    bob = Lead.objects.create(email="bob@acme.com")
    LeadScore.objects.filter(lead=bob).update(cell="C3", fit_tier="C", interest_tier=3)
    url = reverse("admin:leads_lead_changelist")

    assert listed(admin_client.get(url, {"cell": "A1"})) == ["ann@acme.com"]
    assert listed(admin_client.get(url, {"fit_tier": "C"})) == ["bob@acme.com"]
    assert listed(admin_client.get(url, {"interest_tier": "1"})) == ["ann@acme.com"]
    for unknown in ({"interest_tier": "x"}, {"cell": "a1"}, {"fit_tier": "D"}):
        refused = admin_client.get(url, unknown)
        assert (refused.status_code, refused["Location"]) == (302, url + "?e=1")
    page = admin_client.get(url).content.decode()
    for choice in ("?cell=B2", "?fit_tier=B", "?interest_tier=2"):
        assert choice in page  # every choice offered, including those no lead is in


def test_the_lead_list_filters_by_when_a_lead_was_created(admin_client):
    Lead.objects.create(email="new@acme.com")
    Lead.objects.create(email="old@acme.com", created_at=timezone.now() - timedelta(days=30))
    url = reverse("admin:leads_lead_changelist")
    page = admin_client.get(url).content.decode()

    past_week = re.search(r'<a href="(\?created_at__gte=[^"]+)">Past 7 days</a>', page)

    assert past_week, "the list offers the last seven days"
    response = admin_client.get(url + html.unescape(past_week.group(1)))
    assert listed(response) == ["new@acme.com"]


def test_searching_leads_by_an_address_finds_it_by_its_beginning_in_any_case(admin_client):
    Lead.objects.create(email="dana@northwind.com", first_name="Dana")
    Lead.objects.create(email="ann.dana@northwind.com", first_name="Ann")
    Lead.objects.create(email="sam@northwind.com", first_name="Sam", last_name="Dana-Okafor")
    url = reverse("admin:leads_lead_changelist")

    def found(term: str) -> list[str]:
        return sorted(listed(admin_client.get(url, {"q": term})))

    assert found(" Dana@North") == ["dana@northwind.com"]  # not ann.dana@…: its beginning
    assert found("dana@northwind.com") == ["dana@northwind.com"]
    # Text inside an address, when no e-mail begins so; any other text, anywhere.
    assert found("nn.dana@northwind.com") == ["ann.dana@northwind.com"]
    assert found("dana") == ["ann.dana@northwind.com", "dana@northwind.com", "sam@northwind.com"]


def activity_rows(response) -> list[tuple[str, str]]:
    return [(a.kind, a.lead.email) for a in response.context["cl"].result_list]


def test_the_activity_list_shows_the_newest_recorded_first_and_filters_by_the_kinds_on_record(
    admin_client,
):
    dana = Lead.objects.create(email="dana@northwind.com")
    now = timezone.now()
    for kind, age in [("page_view", 1), ("webinar_attended", 9), ("email_open", 3)]:
        Activity.objects.create(lead=dana, kind=kind, occurred_at=now - timedelta(days=age))
    url = reverse("admin:leads_activity_changelist")

    response = admin_client.get(url)

    assert [kind for kind, _ in activity_rows(response)] == [
        "email_open",
        "webinar_attended",
        "page_view",
    ]
    resorted = admin_client.get(url, {"o": "1"})  # by kind, were sorting allowed: ignored
    assert activity_rows(resorted) == activity_rows(response)
    page = response.content.decode()
    assert "?kind=webinar_attended" in page
    assert "?kind=demo_request" not in page  # only kinds on record
    assert "Show counts" not in page  # a count per choice would read every activity
    assert activity_rows(admin_client.get(url, {"kind": "page_view"})) == [
        ("page_view", "dana@northwind.com")
    ]
    assert activity_rows(admin_client.get(url, {"kind": "demo_request"})) == []  # none yet


def test_searching_activities_finds_a_leads_by_its_address_or_one_by_its_event_id(admin_client):
    dana = Lead.objects.create(email="dana@northwind.com")
    sam = Lead.objects.create(email="sam@northwind.com")
    Activity.objects.create(lead=dana, kind="page_view", occurred_at=timezone.now())
    Activity.objects.create(
        lead=sam, kind="email_open", occurred_at=timezone.now(), source="hubspot", external_id="e-9"
    )
    url = reverse("admin:leads_activity_changelist")

    assert activity_rows(admin_client.get(url, {"q": " Dana@Northwind.com "})) == [
        ("page_view", "dana@northwind.com")
    ]
    assert activity_rows(admin_client.get(url, {"q": "e-9"})) == [
        ("email_open", "sam@northwind.com")
    ]
    Activity.objects.create(
        lead=dana,
        kind="email_click",
        occurred_at=timezone.now(),
        source="gmail",
        external_id="<CAF12@mail.gmail.com>",  # an e-mail message id holds an "@"
    )
    assert activity_rows(admin_client.get(url, {"q": "<CAF12@mail.gmail.com>"})) == [
        ("email_click", "dana@northwind.com")
    ]
    assert activity_rows(admin_client.get(url, {"q": "northwind"})) == []  # exact only
