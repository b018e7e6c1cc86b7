"""`manage.py seed_demo` and the demo generator behind it (leads/demo.py)."""

import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.core.validators import validate_email
from django.db.models import Count

from feedback.models import SdrProfile
from feedback.roles import MANAGER, MARKETING, SDR
from leads.demo import (
    DANA_EMAIL,
    DEMO_PASSWORD,
    DemoDataset,
    TruthRow,
    demo_truth,
    truth_row_from_activities,
    truth_rows,
)
from leads.free_mail import is_free_mail
from leads.models import Account, Activity, Lead

SMALL = {"leads": 200, "months": 3}
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def demo_settings(settings):
    # The demo password is hashed once per run; a fast hasher keeps the suite quick.
    settings.DEBUG = True  # seed_demo refuses to create its known logins in production


def test_it_refuses_to_seed_demo_logins_in_production(settings, db):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="production"):
        seed()
    assert not Lead.objects.exists()


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", **{**SMALL, **options}, stdout=out, stderr=StringIO())
    return out.getvalue()


def snapshot() -> list[tuple]:
    """Everything but the wall-clock times, which shift with when the command ran."""
    activities: dict[int, list[tuple]] = {}
    for row in Activity.objects.order_by("external_id").values_list(
        "lead_id", "kind", "url", "source", "external_id", "properties"
    ):
        activities.setdefault(row[0], []).append(row[1:])
    leads = Lead.objects.values_list("pk", "email", "title", "source", "account__domain")
    return sorted((*fields, tuple(activities.get(pk, ()))) for pk, *fields in leads)


def wipe() -> None:
    Lead.objects.all().delete()
    Account.objects.all().delete()


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_data():
    seed(seed=7)
    first = snapshot()
    wipe()
    seed(seed=7)
    assert snapshot() == first
    assert len(first) == 200


@pytest.mark.django_db
def test_a_different_seed_gives_different_data():
    seed(seed=7)
    first = {email for email, *_ in snapshot()}
    wipe()
    seed(seed=8)
    second = {email for email, *_ in snapshot()}
    assert first != second
    assert DANA_EMAIL in first & second  # Dana is in every demo
    assert len(first & second) < 10


def test_the_generator_is_a_pure_function_of_seed_and_now():
    def draw(seed: int) -> list:
        data = DemoDataset(seed=seed, n_leads=50, months=2, now=NOW)
        return [data.accounts, list(data.iter_leads())]

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)


@pytest.mark.django_db
def test_every_role_has_a_demo_login(client):
    output = seed()
    assert DEMO_PASSWORD in output
    expected = {
        "marketing": (MARKETING, True, False),
        "sdr1": (SDR, False, False),
        "sdr2": (SDR, False, False),
        "sdr3": (SDR, False, False),
        "manager": (MANAGER, True, False),
        "admin": (None, True, True),
    }
    for username, (role, staff, superuser) in expected.items():
        user = User.objects.get(username=username)
        assert output.count(f"  {username} ") == 1
        assert (user.is_staff, user.is_superuser) == (staff, superuser)
        assert user.first_name and user.last_name and "@" in user.email
        assert list(user.groups.values_list("name", flat=True)) == ([role] if role else [])
        assert client.login(username=username, password=DEMO_PASSWORD), username
        client.logout()
    assert (
        SdrProfile.objects.filter(
            user__username__in=["sdr1", "sdr2", "sdr3"], active=True, accepting_leads=True
        ).count()
        == 3
    )


@pytest.mark.django_db
def test_emails_are_valid_unique_and_lower_case():
    seed()
    leads = list(Lead.objects.values_list("email", "email_domain", "email_is_free"))
    emails = [email for email, _, _ in leads]
    assert len(set(emails)) == len(emails) == 200
    for email, domain, free in leads:
        validate_email(email)
        assert email == email.strip().lower()
        # bulk_create skips Lead.save(): the seeder must derive these itself.
        assert domain == email.rpartition("@")[2]
        assert free == is_free_mail(domain)
    assert 0.05 < sum(free for *_, free in leads) / len(leads) < 0.3


@pytest.mark.django_db
def test_activity_volume_is_skewed_and_within_the_window():
    seed()
    counts = list(Lead.objects.annotate(n=Count("activities")).values_list("n", flat=True))
    assert min(counts) >= 1
    assert max(counts) >= 5 * statistics.median(counts)
    oldest = Activity.objects.order_by("occurred_at").first()
    assert oldest.occurred_at > datetime.now(UTC) - timedelta(days=3 * 31)
    # Some leads are already worked by an SDR.
    owners = set(Lead.objects.exclude(owner=None).values_list("owner__username", flat=True))
    assert owners and owners <= {"sdr1", "sdr2", "sdr3"}


def test_a_year_of_activity_is_mostly_email_opens_with_few_demo_requests():
    data = DemoDataset(seed=42, n_leads=300, months=12, now=NOW)
    kinds = Counter(a.kind for lead in data.iter_leads() for a in lead.activities)
    assert kinds.most_common(1)[0][0] == "email_open"
    assert 0 < kinds["demo_request"] < kinds["page_view"] / 20
    assert 0 < kinds["unsubscribe"] < kinds["demo_request"]
    assert {"trial_signup", "webinar_attended", "content_download"} <= set(kinds)


@pytest.mark.django_db
def test_dana_is_there_with_her_buying_signals():
    seed()
    dana = Lead.objects.select_related("account").get(email=DANA_EMAIL)
    assert (dana.full_name, dana.title) == ("Dana Whitfield", "VP Marketing")
    account = dana.account
    assert account.domain == "northwind-logistics.com"
    assert (account.industry, account.employee_count, account.country) == ("Logistics", 300, "US")
    month_ago = datetime.now(UTC) - timedelta(days=30)
    recent = dana.activities.filter(occurred_at__gt=month_ago)
    assert recent.filter(kind="demo_request").count() == 1
    assert recent.filter(kind="page_view", url__contains="/pricing").count() == 3
    assert recent.filter(kind="email_open").count() >= 3


@pytest.mark.django_db
def test_running_again_changes_nothing():
    seed()
    sdr1 = User.objects.get(username="sdr1")
    before = (Lead.objects.count(), Account.objects.count(), Activity.objects.count())
    assert "already there" in seed()
    assert "already there" in seed(seed=99)
    after = (Lead.objects.count(), Account.objects.count(), Activity.objects.count())
    assert after == before
    assert User.objects.filter(username="sdr1").get().password == sdr1.password


@pytest.mark.django_db
def test_existing_users_are_left_alone():
    User.objects.create_user("manager", "boss@example.com", "my-own-password-123")
    output = seed()
    manager = User.objects.get(username="manager")
    assert manager.check_password("my-own-password-123")
    assert manager.email == "boss@example.com"
    assert "already existed" in output


def test_the_hidden_truth_rewards_buying_signals_not_reading():
    fit = {"title": "VP Marketing", "employee_count": 300, "industry": "Logistics"}
    base = demo_truth(TruthRow(**fit))
    assert 0 < base < 0.1
    assert demo_truth(TruthRow(**fit, demo_requests=1)) > 5 * base
    assert demo_truth(TruthRow(**fit, case_study_downloads=2)) > 2 * base
    # Reading and opening e-mails predict nothing.
    assert demo_truth(TruthRow(**fit, ebook_downloads=9, blog_views=40, email_opens=90)) == base
    assert demo_truth(TruthRow(**fit, email_is_free=True)) < base / 5
    assert demo_truth(TruthRow(**{**fit, "title": "MBA Student"}, demo_requests=1)) == 0
    assert demo_truth({**fit, "email_domain": "rivalco.com", "demo_requests": 1}) == 0


@pytest.mark.django_db
def test_truth_rows_from_the_database_match_the_in_memory_ones():
    seed()
    dana = Lead.objects.select_related("account").get(email=DANA_EMAIL)
    from_db = truth_rows(Lead.objects.filter(pk=dana.pk))[dana.pk]
    in_memory = truth_row_from_activities(
        dana.activities.values_list("kind", "url"),
        title=dana.title,
        employee_count=dana.account.employee_count,
        industry=dana.account.industry,
        email_domain=dana.email_domain,
        email_is_free=dana.email_is_free,
    )
    assert from_db == in_memory
    assert (from_db.demo_requests, from_db.pricing_views) == (1, 3)
    assert demo_truth(from_db) > 0.3
