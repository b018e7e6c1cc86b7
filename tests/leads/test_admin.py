from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Account, Activity, Lead
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
    assert scored_lead.fit_score == 20 - 10  # senior title, under 20 employees


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
    assert scored_lead.fit_score == 15 + 15 + 5  # 50-500 employees, target industry, US


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
    assert scored_lead.interest_score == pytest.approx(40, abs=0.1)


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
