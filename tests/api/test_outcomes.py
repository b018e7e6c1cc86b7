from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from feedback.models import Outcome
from leads.models import Lead

from .conftest import only_error
from .test_leads import counts

pytestmark = pytest.mark.django_db


def outcome(**fields) -> dict:
    return {
        "email": "dana@northwind.com",
        "type": "won",
        "occurred_at": "2026-03-01T12:00:00Z",
        "amount": "25000.50",
        "external_id": "deal-1",
        **fields,
    }


def test_an_outcome_is_stored_once_however_often_it_is_sent(api):
    first = api.post("outcomes", outcome())
    assert first.status_code == 200
    assert first.json() == {
        "created": 1,
        "duplicates": 0,
        "rejected": 0,
        "leads_created": 1,
        "errors": [],
    }
    again = api.post("outcomes", outcome(amount=1))
    assert (again.json()["created"], again.json()["duplicates"]) == (0, 1)
    stored = Outcome.objects.get()
    assert (stored.lead, stored.type) == (Lead.objects.get(), "won")
    assert stored.amount == Decimal("25000.50")
    assert stored.occurred_at == datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_a_batch_of_outcomes(api):
    batch = {
        "outcomes": [
            outcome(type="opportunity", external_id=123),
            outcome(type="won", external_id=124),
            outcome(type="won", external_id="124"),  # the same id as text
        ]
    }
    response = api.post("outcomes", batch)
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["duplicates"]) == (2, 1)
    assert set(Outcome.objects.values_list("external_id", flat=True)) == {"123", "124"}


def test_a_bad_type_is_a_422_and_stores_nothing(api):
    response = api.post("outcomes", outcome(type="closed"))
    assert response.status_code == 422
    assert only_error(response) == {
        "index": 0,
        "field": "type",
        "message": "Input should be 'opportunity', 'won' or 'lost'.",
    }
    assert counts() == (0, 0, 0, 0)


def test_a_negative_amount_is_a_422(api):
    response = api.post("outcomes", outcome(amount=-5))
    assert response.status_code == 422
    error = only_error(response)
    assert (error["index"], error["field"]) == (0, "amount")
    assert counts() == (0, 0, 0, 0)


def test_a_future_outcome_is_a_422(api):
    later = (timezone.now() + timedelta(days=2)).isoformat()
    response = api.post("outcomes", outcome(occurred_at=later))
    assert response.status_code == 422
    assert only_error(response) == {
        "index": 0,
        "field": "occurred_at",
        "message": "More than 24 hours in the future.",
    }
    assert counts() == (0, 0, 0, 0)


def test_an_outcome_before_1970_is_a_422(api):
    response = api.post("outcomes", outcome(occurred_at="0233-11-02T00:00:00-19:00"))
    assert response.status_code == 422
    assert only_error(response)["message"].startswith("Before 1970")
    assert counts() == (0, 0, 0, 0)


def test_in_a_batch_invalid_outcomes_are_rejected_one_by_one(api):
    batch = {"outcomes": [outcome(), outcome(email="nope", external_id="deal-2")]}
    response = api.post("outcomes", batch)
    assert response.status_code == 200
    assert response.json()["created"] == 1
    assert response.json()["errors"] == [
        {"index": 1, "field": "email", "message": "'nope' is not a valid e-mail address."}
    ]
    assert counts() == (1, 0, 0, 1)
