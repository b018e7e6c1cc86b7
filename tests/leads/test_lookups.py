"""`__any`: the same rows as `__in`, sent as one array on PostgreSQL."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import Activity, Lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads():
    return [Lead.objects.create(email=f"lead{n}@example.com") for n in range(4)]


def test_any_finds_the_rows_in_finds_by_text_id_and_time(leads):
    emails = ["lead1@example.com", "lead3@example.com", "nobody@example.com", None]
    by_email = Lead.objects.filter(email__any=emails)
    assert set(by_email) == set(Lead.objects.filter(email__in=emails)) == {leads[1], leads[3]}
    ids = {leads[0].pk, leads[2].pk, 10**12}
    assert set(Lead.objects.filter(pk__any=ids)) == {leads[0], leads[2]}

    now = timezone.now()
    for lead, age in zip(leads, (1, 2, 3, 4), strict=True):
        Activity.objects.create(lead=lead, kind="page_view", occurred_at=now - timedelta(days=age))
    found = Activity.objects.filter(
        lead_id__any=[leads[0].pk, leads[1].pk, leads[3].pk],
        occurred_at__any=[now - timedelta(days=1), now - timedelta(days=4)],
    )
    assert {a.lead for a in found} == {leads[0], leads[3]}


def test_any_of_nothing_finds_nothing_without_asking_the_database(leads):
    with CaptureQueriesContext(connection) as queries:
        assert list(Lead.objects.filter(pk__any=[])) == []
        assert list(Lead.objects.filter(email__any=[None])) == []
    assert len(queries) == 0


def test_any_matches_texts_with_quotes_backslashes_braces_and_commas_exactly(leads):
    tricky = ['a"b', "c\\d", "{x,y}", "NULL", " spaced ", "ünï", "'q'"]
    now = timezone.now()
    for n, external_id in enumerate(tricky):
        Activity.objects.create(
            lead=leads[0],
            kind="page_view",
            occurred_at=now - timedelta(minutes=n),
            source="crm",
            external_id=external_id,
        )
    found = Activity.objects.filter(external_id__any=[*tricky, "x,y", "spaced"])
    assert sorted(found.values_list("external_id", flat=True)) == sorted(tricky)


def test_any_of_an_id_past_the_columns_range_or_a_too_long_text_finds_nothing(leads):
    assert set(Lead.objects.filter(pk__any=[2**63, -(2**63) - 1, leads[1].pk])) == {leads[1]}
    assert list(Lead.objects.filter(pk__any=[2**63])) == []
    Activity.objects.create(
        lead=leads[0], kind="page_view", occurred_at=timezone.now(), external_id="x" * 200
    )
    # Not cut to the column's 200 characters, which would match the stored one.
    assert not Activity.objects.filter(external_id__any=["x" * 201]).exists()
    assert Activity.objects.filter(external_id__any=["x" * 200]).exists()


def test_any_takes_model_instances_for_a_foreign_key(leads):
    Activity.objects.create(lead=leads[2], kind="page_view", occurred_at=timezone.now())
    assert [a.lead for a in Activity.objects.filter(lead__any=[leads[2], leads[3]])] == [leads[2]]
