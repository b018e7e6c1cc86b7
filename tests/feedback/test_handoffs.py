"""Design §4: when a handoff opens, to whom, what holds a lead back, and working it."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from feedback import services
from feedback.models import Disposition, Handoff
from feedback.roles import SDR
from leads.models import Activity, Lead, Stage
from leads.services import NewActivity, ingest_activities, record_activity, upsert_lead
from scoring.models import RuleSet, ScoreChange
from scoring.services import load_default_ruleset, rescore_leads
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

VP = {"title": "VP Marketing"}
NORTHWIND = {
    "domain": "northwind.com",
    "name": "Northwind",
    "industry": "Software",
    "employee_count": 300,
    "country": "US",
}


@pytest.fixture
def ruleset():
    return load_default_ruleset(publish=True, sync=True)


def hot_lead(email="dana@northwind.com", account=NORTHWIND, **fields) -> Lead:
    """A senior lead at a target account who just asked for a demo: an A-fit MQL."""
    lead, *_ = upsert_lead(email=email, account=account, **{**VP, **fields})
    now = timezone.now()
    ingest_activities(
        [
            NewActivity(lead_id=lead.pk, kind="demo_request", occurred_at=now),
            NewActivity(lead_id=lead.pk, kind="trial_signup", occurred_at=now),
        ]
    )
    lead.refresh_from_db()
    return lead


def test_a_lead_entering_an_mql_cell_opens_a_handoff_with_its_score(ruleset, sdr):
    lead = hot_lead()
    handoff = Handoff.objects.get()
    assert (handoff.lead, handoff.cell, handoff.mql_class) == (lead, "A1", "mql_priority")
    assert handoff.total_score == pytest.approx(lead.score.total_score)
    assert {c["rule"] for c in handoff.contributions} >= {"Demo request", "Senior title"}
    assert handoff.first_touch_due - handoff.created_at == timedelta(hours=1)
    assert handoff.disposition_due - handoff.created_at == timedelta(hours=72)
    assert handoff.assigned_to == sdr
    assert lead.stage == Stage.MQL
    assert ScoreChange.objects.filter(lead=lead, reason="handoff", to_stage="mql").exists()


def test_the_snapshot_keeps_the_score_at_handoff_when_the_lead_changes(ruleset, sdr):
    lead = hot_lead()
    snapshot = Handoff.objects.get().total_score
    upsert_lead(email=lead.email, title="Intern")
    assert Lead.objects.get().score.total_score < snapshot
    assert Handoff.objects.get().total_score == snapshot


def test_a_lead_has_one_open_handoff_however_often_it_is_rescored(ruleset, sdr):
    lead = hot_lead()
    rescore_leads([lead.pk], reason="rescore")
    record_activity(lead=lead, kind="demo_request", occurred_at=timezone.now())
    assert Handoff.objects.count() == 1


def test_a_disqualified_lead_never_becomes_an_mql(ruleset, sdr):
    hot_lead(email="eve@rivalco.com", account={**NORTHWIND, "domain": "rivalco.com"})
    lead = Lead.objects.get()
    assert lead.score.disqualified and lead.score.cell == "A1"
    assert not Handoff.objects.exists()


def test_a_nurture_lead_is_not_handed_off(ruleset, sdr):
    upsert_lead(email="dana@northwind.com", account=NORTHWIND, **VP)  # A3: nurture
    assert Lead.objects.get().score.cell == "A3"
    assert not Handoff.objects.exists()


def test_rescoring_as_of_the_past_opens_no_handoff(ruleset, sdr):

    lead, *_ = upsert_lead(email="dana@northwind.com", account=NORTHWIND, **VP)
    Lead.objects.filter(pk=lead.pk)
    from leads.models import Activity

    Activity.objects.create(lead=lead, kind="demo_request", occurred_at=timezone.now())
    call_command("rescore", "--as-of", timezone.now().isoformat(), "--sync", stdout=None)
    assert Lead.objects.get().score.cell == "A2"
    assert not Handoff.objects.exists()


def finish(handoff, outcome, *, ago_days=0):
    handoff.refresh_from_db()
    user = handoff.assigned_to
    services.disposition(handoff.pk, user=user, outcome=outcome)
    Handoff.objects.filter(pk=handoff.pk).update(
        dispositioned_at=timezone.now() - timedelta(days=ago_days)
    )


def test_an_accepted_lead_never_comes_back(ruleset, sdr):
    lead = hot_lead()
    finish(Handoff.objects.get(), Disposition.ACCEPTED, ago_days=90)
    record_activity(lead=lead, kind="demo_request", occurred_at=timezone.now())
    assert Handoff.objects.count() == 1
    assert Lead.objects.get().stage == Stage.ACCEPTED


def test_bad_timing_waits_for_the_recycle_days_and_a_new_activity(ruleset, sdr):
    lead = hot_lead()
    handoff = Handoff.objects.get()
    finish(handoff, Disposition.BAD_TIMING, ago_days=10)
    rescore_leads([lead.pk], reason="rescore")
    record_activity(lead=lead, kind="page_view", url="/pricing", occurred_at=timezone.now())
    assert Handoff.objects.count() == 1  # new activity, but only 10 of 30 days passed

    Handoff.objects.filter(pk=handoff.pk).update(
        dispositioned_at=timezone.now() - timedelta(days=31)
    )
    Activity.objects.filter(lead=lead).update(created_at=timezone.now() - timedelta(days=40))
    rescore_leads([lead.pk], reason="rescore")
    assert Handoff.objects.count() == 1  # 31 days, but nothing arrived since

    record_activity(lead=lead, kind="email_click", occurred_at=timezone.now())
    assert Handoff.objects.count() == 2
    assert Handoff.objects.open().get().lead == lead


def test_bad_fit_holds_until_the_fit_rises_above_its_fit_then(ruleset, sdr):
    lead = hot_lead(account={**NORTHWIND, "employee_count": 10000})  # fit 20+8+15+5 = 48
    finish(Handoff.objects.get(), Disposition.BAD_FIT)
    upsert_lead(email=lead.email, account={"employee_count": 5000})  # same fit
    assert Handoff.objects.count() == 1
    upsert_lead(email=lead.email, account={"employee_count": 300})  # fit 55 > 48
    assert Handoff.objects.count() == 2


def test_bad_data_holds_until_the_record_is_edited(ruleset, sdr):
    lead = hot_lead()
    finish(Handoff.objects.get(), Disposition.BAD_DATA)
    record_activity(lead=lead, kind="demo_request", occurred_at=timezone.now())
    assert Handoff.objects.count() == 1
    upsert_lead(email=lead.email, first_name="Dana")
    assert Handoff.objects.count() == 2


def test_the_sdr_who_works_the_account_gets_its_next_lead(ruleset):
    first, second = make_user("amy", SDR), make_user("ben", SDR)
    hot_lead()
    owner = Handoff.objects.get().assigned_to
    hot_lead(email="sam@northwind.com")
    hot_lead(email="kai@other.com", account={**NORTHWIND, "domain": "other.com"})
    by_email = {h.lead.email: h.assigned_to for h in Handoff.objects.select_related("lead")}
    assert by_email["sam@northwind.com"] == owner
    assert by_email["kai@other.com"] == ({first, second} - {owner}).pop()  # round robin


def test_a_lead_without_an_owner_is_owned_by_the_sdr_its_handoff_went_to(ruleset):
    make_user("amy", SDR)
    ben = make_user("ben", SDR)
    unowned, *_ = upsert_lead(email="dana@northwind.com", account=NORTHWIND, **VP)
    owned, *_ = upsert_lead(
        email="sam@other.com", account={**NORTHWIND, "domain": "other.com"}, **VP
    )
    Lead.objects.filter(pk=owned.pk).update(owner=ben)
    now = timezone.now()
    ingest_activities(  # one batch opens both handoffs
        [
            NewActivity(lead_id=lead.pk, kind=kind, occurred_at=now)
            for lead in (unowned, owned)
            for kind in ("demo_request", "trial_signup")
        ]
    )
    assert Handoff.objects.count() == 2
    unowned.refresh_from_db()
    assert unowned.owner is not None
    assert unowned.owner == Handoff.objects.get(lead=unowned).assigned_to
    assert Lead.objects.get(pk=owned.pk).owner == ben  # an owner is never replaced


def test_sdrs_away_get_no_new_mqls_and_with_nobody_left_it_waits_unassigned(ruleset):
    away = make_user("amy", SDR)
    away.sdr_profile.accepting_leads = False
    away.sdr_profile.save()
    hot_lead()
    assert Handoff.objects.get().assigned_to is None


def test_a_new_priority_mql_emails_its_sdr(ruleset, sdr, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        hot_lead()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [sdr.email]
    assert "dana@northwind.com" in mail.outbox[0].body


def test_a_second_disposition_is_refused_saying_who_was_first(ruleset, sdr, manager):
    hot_lead()
    handoff = Handoff.objects.get()
    services.disposition(handoff.pk, user=sdr, outcome="accepted")
    with pytest.raises(services.HandoffError, match="Sam Reyes already marked this MQL accepted"):
        services.disposition(handoff.pk, user=manager, outcome="bad_fit")
    handoff.refresh_from_db()
    assert (handoff.disposition, handoff.dispositioned_by) == ("accepted", sdr)


def test_only_the_assigned_sdr_or_a_manager_may_work_a_handoff(ruleset, sdr, marketer, manager):
    hot_lead()
    handoff = Handoff.objects.get()
    other = make_user("olga", SDR)
    for outsider in (other, marketer):
        with pytest.raises(services.HandoffError, match="not yours"):
            services.disposition(handoff.pk, user=outsider, outcome="accepted")
    services.mark_contacted(handoff.pk, user=manager)
    handoff.refresh_from_db()
    assert handoff.first_touched_at is not None
    assert handoff.sla_due == handoff.disposition_due


def test_a_disposition_can_be_undone_for_a_few_seconds_only(ruleset, sdr):
    hot_lead()
    handoff = Handoff.objects.get()
    services.disposition(handoff.pk, user=sdr, outcome="bad_timing", note="Budget in Q3")
    services.undo_disposition(handoff.pk, user=sdr)
    handoff.refresh_from_db()
    assert handoff.is_open and Lead.objects.get().stage == Stage.MQL
    services.disposition(handoff.pk, user=sdr, outcome="bad_timing")
    Handoff.objects.filter(pk=handoff.pk).update(
        dispositioned_at=timezone.now() - timedelta(seconds=30)
    )
    with pytest.raises(services.HandoffError, match="Too late"):
        services.undo_disposition(handoff.pk, user=sdr)


def test_an_unassigned_mql_can_be_claimed_once(ruleset):
    hot_lead()
    handoff = Handoff.objects.get()
    amy, ben = make_user("amy", SDR), make_user("ben", SDR)
    services.claim(handoff.pk, user=amy)
    with pytest.raises(services.HandoffError, match="claimed"):
        services.claim(handoff.pk, user=ben)
    assert Handoff.objects.get().assigned_to == amy


def test_only_managers_reassign(ruleset, sdr, manager):
    hot_lead()
    handoff = Handoff.objects.get()
    other = make_user("olga", SDR)
    with pytest.raises(services.HandoffError, match="Only managers"):
        services.reassign(handoff.pk, user=sdr, to=other)
    services.reassign(handoff.pk, user=manager, to=other)
    assert Handoff.objects.get().assigned_to == other


def test_the_sla_sweep_marks_breaches_once_and_sends_managers_a_digest(ruleset, sdr, manager):
    hot_lead()
    later = timezone.now() + timedelta(hours=2)  # priority: first touch due within 1 h
    breached = services.sweep_sla(now=later)
    assert [h.lead.email for h in breached] == ["dana@northwind.com"]
    assert Handoff.objects.get().sla_breached_at == later
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [manager.email]
    assert "first touch was due" in mail.outbox[0].body
    assert services.sweep_sla(now=later + timedelta(minutes=10)) == []
    assert len(mail.outbox) == 1


def test_publishing_a_rule_set_hands_off_the_leads_already_in_mql_cells(sdr):
    lead, *_ = upsert_lead(email="dana@northwind.com", account=NORTHWIND, **VP)
    Activity.objects.create(lead=lead, kind="demo_request", occurred_at=timezone.now())
    assert not RuleSet.objects.exists()
    load_default_ruleset(publish=True, sync=True)
    assert Handoff.objects.get().lead == lead


def test_a_leads_stage_follows_its_outcomes(ruleset, sdr):
    from datetime import UTC, datetime

    from feedback.services import NewOutcome, record_outcomes

    hot_lead()
    at = datetime(2026, 6, 1, tzinfo=UTC)
    record_outcomes([NewOutcome(email="dana@northwind.com", type="opportunity", occurred_at=at)])
    assert Lead.objects.get().stage == Stage.OPPORTUNITY
    record_outcomes(
        [NewOutcome(email="dana@northwind.com", type="won", occurred_at=at + timedelta(days=30))]
    )
    assert Lead.objects.get().stage == Stage.WON
