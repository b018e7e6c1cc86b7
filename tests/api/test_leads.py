import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from feedback.models import Outcome
from leads.models import Account, Activity, Lead, LeadScore

from .conftest import only_error

pytestmark = pytest.mark.django_db

DANA = {
    "email": "Dana@Northwind.com",
    "first_name": "Dana",
    "last_name": "Scully",
    "title": "VP Marketing",
    "source": "webinar",
    "external_id": "crm-1",
    "account": {
        "name": "Northwind",
        "domain": "northwind.com",
        "industry": "Software",
        "employee_count": 300,
        "annual_revenue": 12500000.5,
        "country": "us",
        "technologies": ["Salesforce", "HubSpot"],
        "funding_stage": "series_b",
    },
}


def counts() -> tuple[int, int, int, int]:
    return (
        Lead.objects.count(),
        Account.objects.count(),
        Activity.objects.count(),
        Outcome.objects.count(),
    )


def iso(moment: datetime) -> str:
    return moment.isoformat()


def test_an_integration_journey_with_only_the_contract(api, ruleset):
    """Create the lead, send its activity twice, read why it scores, report an outcome."""
    now = timezone.now()
    created = api.post("leads", DANA)
    assert created.status_code == 201
    lead_id = created.json()["id"]

    # design §3's worked example: Dana's activity, relative to now.
    activities = [{"kind": "demo_request", "days": 15, "url": "/demo"}]
    activities += [{"kind": "page_view", "days": d, "url": "/pricing"} for d in (1, 9, 22)]
    activities += [{"kind": "email_open", "days": d, "url": ""} for d in (2, 3, 10, 40, 41)]
    batch = {
        "activities": [
            {
                "email": "dana@northwind.com",
                "kind": a["kind"],
                "occurred_at": iso(now - timedelta(days=a["days"])),
                "url": a["url"],
                "source": "website",
                "external_id": f"evt-{n}",
            }
            for n, a in enumerate(activities)
        ]
    }
    first = api.post("activities", batch)
    assert first.status_code == 200
    assert first.json() == {
        "created": 9,
        "duplicates": 0,
        "rejected": 0,
        "leads_created": 0,
        "leads_rescored": 1,
        "errors": [],
    }
    retry = api.post("activities", batch)  # a retried delivery
    assert retry.json()["created"] == 0 and retry.json()["duplicates"] == 9
    assert Activity.objects.count() == 9

    lead = api.get(f"leads/{lead_id}").json()
    score = lead["score"]
    assert (score["fit"], score["total"]) == (55.0, pytest.approx(110.39, abs=0.01))
    assert score["interest"] == pytest.approx(55.39, abs=0.01)
    assert (score["fit_tier"], score["interest_tier"], score["cell"]) == ("A", 1, "A1")
    assert (score["action"], score["disqualified"]) == ("mql_priority", False)
    assert score["ruleset"] == {"name": ruleset.name, "version": ruleset.version}
    rules = {c["rule"]: c for c in score["contributions"]}
    assert set(rules) == {
        "Senior title",
        "50-500 employees",
        "Target industry",
        "North America",
        "Demo request",
        "Pricing 3+ in 30 days",
        "E-mail open",
    }
    assert rules["Senior title"] == {
        "rule": "Senior title",
        "kind": "fit",
        "points": 20.0,
        "value": 20.0,
        "activities": [],
    }
    demo = rules["Demo request"]
    assert demo["kind"] == "behavior" and demo["points"] == 40
    assert demo["value"] == pytest.approx(28.28, abs=0.01)
    assert [a["points"] for a in demo["activities"]] == [40]
    assert demo["activities"][0]["id"] == Activity.objects.get(kind="demo_request").pk
    assert len(rules["E-mail open"]["activities"]) == 3  # the most recent max_count
    total = sum(c["value"] for c in score["contributions"])
    assert total == pytest.approx(score["total"], abs=0.05)
    assert lead["stage"] in {"lead", "mql"}

    outcome = api.post(
        "outcomes",
        {
            "email": "dana@northwind.com",
            "type": "opportunity",
            "occurred_at": iso(now),
            "amount": 25000,
            "external_id": "opp-1",
        },
    )
    assert outcome.status_code == 200
    assert outcome.json()["created"] == 1


def test_create_then_update_by_email(api):
    created = api.post("leads", DANA)
    assert created.status_code == 201
    body = created.json()
    assert body["email"] == "dana@northwind.com"
    assert body["account"] == {
        "id": Account.objects.get().pk,
        "name": "Northwind",
        "domain": "northwind.com",
        "industry": "Software",
        "employee_count": 300,
        "annual_revenue": 12500000.5,
        "country": "US",
        "technologies": ["Salesforce", "HubSpot"],
        "funding_stage": "series_b",
    }
    assert body["stage"] == "lead"
    # Without a published rule set the lead is stored but not scored.
    assert body["score"]["as_of"] is None and body["score"]["ruleset"] is None

    updated = api.post("leads", {"email": "DANA@northwind.com ", "title": "CMO"})
    assert updated.status_code == 200
    assert updated.json()["id"] == body["id"]
    assert updated.json()["title"] == "CMO"
    assert updated.json()["first_name"] == "Dana"  # left out: kept
    assert counts() == (1, 1, 0, 0)


def test_a_lead_the_api_creates_has_its_score_row_before_any_scoring(api):
    api.post("leads", DANA)  # no rule set: nothing scores it
    sam = {"email": "sam@acme.com", "kind": "page_view", "occurred_at": "2026-01-15T10:00:00Z"}
    assert api.post("activities", sam).json()["leads_created"] == 1
    scores = LeadScore.objects.order_by("lead__email")
    assert [(s.lead.email, s.cell, s.scored_at) for s in scores] == [
        ("dana@northwind.com", "C3", None),
        ("sam@acme.com", "C3", None),
    ]
    assert LeadScore.objects.count() == Lead.objects.count()


def test_null_keeps_a_value_and_an_empty_text_clears_it(api):
    api.post("leads", DANA)
    body = api.post(
        "leads", {"email": DANA["email"], "title": None, "account": None, "last_name": ""}
    ).json()
    assert (body["title"], body["last_name"]) == ("VP Marketing", "")
    assert body["account"]["name"] == "Northwind"


def test_an_account_change_is_stored(api):
    api.post("leads", DANA)
    body = api.post("leads", {"email": DANA["email"], "account": {"employee_count": 10}}).json()
    assert body["account"]["employee_count"] == 10
    assert Account.objects.get().employee_count == 10


def test_an_account_change_rescores_the_lead(api, ruleset):
    api.post("leads", DANA)
    body = api.post("leads", {"email": DANA["email"], "account": {"employee_count": 10}}).json()
    assert body["score"]["fit"] == 55.0 - 15 - 10  # 50-500 lost, under 20 gained
    assert {c["rule"] for c in body["score"]["contributions"]} >= {"Under 20 employees"}


def test_the_post_answer_is_the_lead_as_get_returns_it(api, ruleset):
    posted = api.post("leads", DANA).json()
    assert api.get(f"leads/{posted['id']}").json() == posted
    assert api.get("leads", email="DANA@northwind.com").json() == posted
    assert posted["score"]["fit"] == 55.0 and posted["score"]["cell"] == "A3"


def test_a_missing_lead_is_a_json_404(api):
    by_id = api.get("leads/999")
    assert by_id.status_code == 404
    assert by_id.json() == {"detail": "No lead with this id.", "errors": []}
    by_email = api.get("leads", email="nobody@example.com")
    assert by_email.status_code == 404
    assert by_email.json()["detail"] == "No lead with this e-mail."


def test_a_nul_character_anywhere_is_a_422_naming_the_field(api):
    # PostgreSQL can store NUL neither in text nor in JSON; nothing is written.
    response = api.post("leads", {"email": "ada@acme.com", "attributes": {"plan": ["a\u0000"]}})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "index": None,
            "field": "attributes.plan.0",
            "message": "Contains the NUL character (\\u0000), which text cannot hold.",
        }
    ]
    assert counts() == (0, 0, 0, 0)
    key = api.post("activities", {"email": "ada@acme.com", "properties": {"a\u0000": 1}})
    assert key.status_code == 422
    assert key.json()["errors"][0]["field"] == "properties.a\\u0000"


def test_a_nul_character_in_a_utf16_body_is_refused_and_a_backslash_u_text_is_not(api):
    body = json.dumps({"email": "ada@acme.com", "attributes": {"plan": "a\u0000"}})
    utf16 = api.post("leads", raw=body.encode("utf-16"))
    assert utf16.status_code == 422
    assert utf16.json()["errors"][0]["field"] == "attributes.plan"
    assert counts() == (0, 0, 0, 0)
    # The six characters \u0000, written as text, are no NUL.
    text = api.post("leads", {"email": "ada@acme.com", "attributes": {"plan": "a\\u0000"}})
    assert text.status_code == 201
    assert Lead.objects.get().attributes == {"plan": "a\\u0000"}


def test_looking_up_an_email_with_a_nul_character_is_a_422_naming_it(api):
    response = api.get("leads?email=%00ada%40acme.com")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "email"


def test_a_path_with_an_encoded_line_break_is_a_json_404(api):
    response = api.get("leads/abc%0A")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_looking_up_without_an_email_is_a_422(api):
    response = api.get("leads")
    assert response.status_code == 422
    assert only_error(response) == {
        "index": None,
        "field": "email",
        "message": "This field is required.",
    }


def test_malformed_json_is_a_400_and_stores_nothing(api):
    response = api.post("leads", raw='{"email": "dana@northwind.com",')
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Malformed JSON: ")
    assert response.json()["errors"] == []
    assert counts() == (0, 0, 0, 0)


def test_a_wrong_type_is_a_422_naming_the_nested_field(api):
    response = api.post("leads", {**DANA, "account": {**DANA["account"], "employee_count": "300"}})
    assert response.status_code == 422
    assert only_error(response) == {
        "index": 0,
        "field": "account.employee_count",
        "message": "Input should be a valid integer.",
    }
    assert counts() == (0, 0, 0, 0)


def test_unknown_fields_are_reported_not_dropped(api):
    response = api.post("leads", {**DANA, "favourite_colour": "teal"})
    assert response.status_code == 422
    assert only_error(response) == {
        "index": 0,
        "field": "favourite_colour",
        "message": "Unknown field.",
    }
    assert counts() == (0, 0, 0, 0)


def test_a_bad_email_is_a_422(api):
    response = api.post("leads", {**DANA, "email": "dana(at)northwind"})
    assert response.status_code == 422
    assert only_error(response) == {
        "index": 0,
        "field": "email",
        "message": "'dana(at)northwind' is not a valid e-mail address.",
    }
    assert counts() == (0, 0, 0, 0)


def test_a_body_that_is_not_an_object_is_a_422(api):
    response = api.post("leads", [DANA])
    assert response.status_code == 422
    assert only_error(response) == {
        "index": None,
        "field": None,
        "message": "Must be a JSON object.",
    }
    assert counts() == (0, 0, 0, 0)


def test_a_bad_country_and_domain_are_both_reported(api):
    account = {**DANA["account"], "country": "USA", "domain": "https://northwind.com/"}
    response = api.post("leads", {**DANA, "account": account})
    assert response.status_code == 422
    assert {(e["field"], e["message"]) for e in response.json()["errors"]} == {
        ("account.domain", "Enter a bare domain such as acme.com (no http:// or path)."),
        ("account.country", "Use the two-letter ISO 3166 country code, for example US or DE."),
    }
    assert counts() == (0, 0, 0, 0)


def test_a_crm_id_taken_by_another_lead_is_a_422_and_changes_nothing(api):
    api.post("leads", DANA)
    before = counts()
    response = api.post("leads", {"email": "fox@northwind.com", "external_id": "crm-1"})
    assert response.status_code == 422
    assert only_error(response) == {
        "index": 0,
        "field": "external_id",
        "message": "Another lead has this external_id.",
    }
    assert counts() == before


def test_created_at_without_an_offset_is_in_the_site_time_zone(api, settings):
    settings.TIME_ZONE = "America/New_York"
    response = api.post("leads", {"email": "dana@northwind.com", "created_at": "2026-01-15T09:00"})
    assert response.status_code == 201
    assert Lead.objects.get().created_at == datetime(2026, 1, 15, 14, 0, tzinfo=UTC)


def test_attributes_over_16_kb_are_a_422_and_change_nothing(api):
    response = api.post("leads", {**DANA, "attributes": {f"k{n}": "v" * 100 for n in range(200)}})
    assert response.status_code == 422
    assert only_error(response)["field"] == "attributes"
    assert only_error(response)["message"].startswith("At most 16,384 bytes of JSON")
    assert counts() == (0, 0, 0, 0)
