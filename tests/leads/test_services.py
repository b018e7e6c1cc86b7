from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.models import Account, Activity, Lead
from leads.services import insert_activities, record_activity, upsert_lead

pytestmark = pytest.mark.django_db


def test_upsert_creates_then_updates_the_same_lead():
    lead, created, _ = upsert_lead(email="Dana@Northwind.com", title="VP Marketing")
    again, created_again, _ = upsert_lead(email="dana@northwind.com ", title="CMO")
    assert (created, created_again) == (True, False)
    assert again.pk == lead.pk
    assert Lead.objects.get().title == "CMO"


def test_upsert_finds_the_account_by_the_email_domain_unless_free_mail():
    lead, *_ = upsert_lead(email="dana@northwind.com")
    assert lead.account.domain == "northwind.com"
    private, *_ = upsert_lead(email="dana@gmail.com")
    assert private.account is None
    assert Account.objects.count() == 1


def test_upsert_uses_the_company_domain_and_its_details():
    lead, *_ = upsert_lead(
        email="dana@gmail.com",
        account={"domain": "Northwind.com", "name": "Northwind", "employee_count": 300},
    )
    assert (lead.account.name, lead.account.employee_count) == ("Northwind", 300)


def test_a_malformed_email_is_refused_and_nothing_is_written():
    with pytest.raises(ValidationError) as error:
        upsert_lead(email="dana(at)northwind", account={"domain": "northwind.com"})
    assert "email" in error.value.message_dict
    assert not Lead.objects.exists()
    assert not Account.objects.exists()


def test_an_unknown_lead_field_is_reported_not_dropped():
    with pytest.raises(ValidationError) as error:
        upsert_lead(email="dana@northwind.com", favourite_colour="teal")
    assert "favourite_colour" in error.value.message_dict
    assert not Lead.objects.exists()


def test_a_duplicate_activity_is_refused_and_the_database_is_unchanged():
    lead, *_ = upsert_lead(email="dana@northwind.com")
    when = datetime(2026, 6, 1, 10, tzinfo=UTC)
    record_activity(lead=lead, kind="page_view", occurred_at=when, source="web", external_id="e1")
    with pytest.raises(ValidationError) as error:
        record_activity(
            lead=lead, kind="page_view", occurred_at=when, source="web", external_id="e1"
        )
    assert "exists already" in str(error.value)
    assert Activity.objects.count() == 1


@pytest.mark.parametrize("kind", ["Page View", "page-view", "", "x" * 65])
def test_a_malformed_activity_kind_is_refused(kind):
    lead, *_ = upsert_lead(email="dana@northwind.com")
    with pytest.raises(ValidationError) as error:
        record_activity(lead=lead, kind=kind, occurred_at=timezone.now())
    assert "kind" in error.value.message_dict
    assert not Activity.objects.exists()


def test_an_activity_more_than_a_day_in_the_future_is_refused():
    lead, *_ = upsert_lead(email="dana@northwind.com")
    with pytest.raises(ValidationError) as error:
        record_activity(
            lead=lead, kind="page_view", occurred_at=timezone.now() + timedelta(hours=25)
        )
    assert "future" in str(error.value)
    assert not Activity.objects.exists()


def test_a_time_without_offset_is_read_in_the_site_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    lead, *_ = upsert_lead(email="dana@northwind.com")
    activity = record_activity(lead=lead, kind="page_view", occurred_at=datetime(2026, 1, 15, 9, 0))
    assert activity.occurred_at == datetime(2026, 1, 15, 14, 0, tzinfo=UTC)


def test_an_account_change_rescores_all_of_its_leads():
    from scoring.services import load_default_ruleset

    load_default_ruleset(publish=True, sync=True)
    upsert_lead(email="dana@northwind.com", account={"employee_count": 300})
    sam, *_ = upsert_lead(email="sam@northwind.com")
    assert sam.score.fit_score == 15
    result = upsert_lead(email="dana@northwind.com", account={"employee_count": 10})
    assert result.changed and not result.created
    sam.refresh_from_db()
    assert sam.score.fit_score == -10


def test_an_unchanged_upsert_writes_nothing():
    lead, *_ = upsert_lead(email="dana@northwind.com", title="VP", account={"industry": "Retail"})
    result = upsert_lead(email="dana@northwind.com", title="VP", account={"industry": "Retail"})
    assert not result.changed
    assert Lead.objects.get().updated_at == lead.updated_at


def test_stored_activities_keep_their_fields_and_a_repeated_event_id_is_a_database_error():
    lead = Lead.objects.create(email="ann@acme.com")
    when = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    insert_activities(
        [
            (lead.pk, "page_view", when, "/pricing", {"campaign": "spring"}, "web", "e-1"),
            (lead.pk, "email_open", when, "", {}, "", None),
        ]
    )
    stored = list(
        Activity.objects.order_by("kind").values_list(
            "kind", "occurred_at", "url", "properties", "source", "external_id"
        )
    )
    assert stored == [
        ("email_open", when, "", {}, "", None),
        ("page_view", when, "/pricing", {"campaign": "spring"}, "web", "e-1"),
    ]
    assert Activity.objects.filter(created_at__isnull=True).count() == 0
    # PostgreSQL's COPY raises psycopg's error; the caller sees Django's, as from any query.
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_activities([(lead.pk, "page_view", when, "/pricing", {}, "web", "e-1")])
