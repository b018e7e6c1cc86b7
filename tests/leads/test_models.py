import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from leads.models import Account, Activity, Lead, LeadScore

pytestmark = pytest.mark.django_db


def test_an_email_is_stored_trimmed_and_lower_case():
    lead = Lead.objects.create(email="  Dana.Whitfield@Northwind.COM ")
    assert Lead.objects.get(pk=lead.pk).email == "dana.whitfield@northwind.com"
    assert lead.email_domain == "northwind.com"


def unscored(lead_id: int) -> bool:
    """The lead has its one score row, as a new lead's: unscored, C3."""
    score = LeadScore.objects.get(lead_id=lead_id)
    return (
        score.fit_score,
        score.interest_score,
        score.total_score,
        score.fit_tier,
        score.interest_tier,
        score.cell,
        score.disqualified,
        score.scored_at,
        score.ruleset_version,
        score.fit_rules_digest,
    ) == (0, 0, 0, "C", 3, "C3", False, None, None, None)


def test_a_lead_saved_through_the_orm_gets_its_score_row():
    lead = Lead.objects.create(email="dana@northwind.com")
    assert unscored(lead.pk)
    assert Lead.objects.get(pk=lead.pk).score.cell == "C3"


def test_leads_bulk_created_get_their_score_rows_and_skipped_ones_none():
    Lead.objects.create(email="dana@northwind.com")
    Lead.objects.bulk_create(
        [Lead(email=f"l{n}@northwind.com") for n in range(3)]
        + [Lead(email="dana@northwind.com")],  # already there: skipped
        ignore_conflicts=True,
    )
    assert LeadScore.objects.count() == Lead.objects.count() == 4
    assert all(unscored(pk) for pk in Lead.objects.values_list("pk", flat=True))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_leads_copied_in_get_their_score_rows():
    # As the benchmark's data generation loads them: one COPY statement, one trigger call.
    columns = (
        "email, first_name, last_name, title, source, attributes, created_at, updated_at, "
        "email_domain, email_is_free, stage"
    )
    now = timezone.now()
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY leads_lead ({columns}) FROM STDIN") as copy,
    ):
        for n in range(3):
            copy.write_row(
                (
                    f"l{n}@northwind.com",
                    "",
                    "",
                    "",
                    "",
                    "{}",
                    now,
                    now,
                    "northwind.com",
                    False,
                    "lead",
                )
            )
    assert LeadScore.objects.count() == Lead.objects.count() == 3
    assert all(unscored(pk) for pk in Lead.objects.values_list("pk", flat=True))


def test_a_deleted_lead_takes_its_score_row_with_it():
    lead = Lead.objects.create(email="dana@northwind.com")
    lead.delete()
    assert not LeadScore.objects.exists()


def test_the_same_person_in_other_casing_is_not_a_second_lead():
    Lead.objects.create(email="dana@northwind.com")
    with pytest.raises(IntegrityError):
        Lead.objects.create(email="DANA@northwind.com")


def test_free_mail_addresses_are_flagged():
    assert Lead.objects.create(email="someone@gmail.com").email_is_free
    assert not Lead.objects.create(email="someone@northwind.com").email_is_free


def test_account_domain_is_lower_case_and_unique():
    Account.objects.create(name="Northwind", domain="Northwind.com")
    with pytest.raises(IntegrityError):
        Account.objects.create(name="Northwind again", domain="northwind.com")


def test_external_ids_are_unique_only_when_set():
    Lead.objects.create(email="a@x.com", external_id="")
    Lead.objects.create(email="b@x.com", external_id="")  # blank means "none", twice is fine
    Lead.objects.create(email="c@x.com", external_id="crm-1")
    with pytest.raises(IntegrityError):
        Lead.objects.create(email="d@x.com", external_id="crm-1")


def test_a_retried_activity_delivery_cannot_be_stored_twice():
    lead = Lead.objects.create(email="a@x.com")
    fields = {"lead": lead, "kind": "page_view", "occurred_at": "2026-06-01T10:00Z"}
    Activity.objects.create(source="web", external_id="evt-1", **fields)
    Activity.objects.create(source="marketo", external_id="evt-1", **fields)  # other source
    Activity.objects.create(source="web", external_id=None, **fields)
    Activity.objects.create(source="web", external_id=None, **fields)
    with pytest.raises(IntegrityError):
        Activity.objects.create(source="web", external_id="evt-1", **fields)
