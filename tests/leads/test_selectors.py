"""Reads of the leads app."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Activity, Lead
from leads.selectors import count_activities_since

pytestmark = pytest.mark.django_db


def test_it_counts_the_activities_of_every_kind_since_a_moment_and_none_before():
    lead = Lead.objects.create(email="dana@northwind.com")
    now = timezone.now()
    week_ago = now - timedelta(days=7)
    for kind, ages in {
        "page_view": [0, 1, 6, 8],
        "email_open": [2, 30],
        "demo_request": [7],  # exactly a week ago: counted
        "webinar_attended": [9, 200],  # a kind with nothing recent
        "zz_custom_kind": [3],  # the last kind in the walk over kinds
    }.items():
        for age in ages:
            Activity.objects.create(lead=lead, kind=kind, occurred_at=now - timedelta(days=age))

    assert count_activities_since(week_ago) == 6
    assert count_activities_since(now + timedelta(hours=1)) == 0


def test_it_counts_nothing_when_there_are_no_activities():
    assert count_activities_since(timezone.now() - timedelta(days=7)) == 0
