"""Two people, two processes' worth of connections, one handoff: PostgreSQL's row locks and
constraints decide, not luck."""

import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from feedback import services
from feedback.models import Handoff
from feedback.roles import MANAGER, SDR
from leads.models import Activity, Lead, LeadScore, Stage
from leads.services import NewActivity, ingest_activities, upsert_lead
from scoring import services as scoring_services
from scoring.models import FitRule, RescoreRun
from scoring.selectors import explain_lead
from scoring.services import (
    clone_ruleset,
    decay_scores,
    lead_id_chunks,
    load_default_ruleset,
    publish_ruleset,
    rescore_leads,
    start_rescore,
)
from tests.conftest import make_user

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("real_services")]


def run_together(*targets):
    """Start the callables at the same instant on their own connections; collect results."""
    barrier = threading.Barrier(len(targets))
    results = [None] * len(targets)

    def runner(index, target):
        barrier.wait()
        try:
            results[index] = target()
        except Exception as error:  # the test inspects what each one met
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.fixture
def open_handoff(transactional_db):
    sdr, manager = make_user("sam", SDR), make_user("morgan", MANAGER)
    load_default_ruleset(publish=True, sync=True)
    lead, *_ = upsert_lead(
        email="dana@northwind.com",
        title="VP Sales",
        account={"domain": "northwind.com", "industry": "Software", "employee_count": 300},
    )
    ingest_activities(
        [NewActivity(lead_id=lead.pk, kind="demo_request", occurred_at=timezone.now())]
    )
    return Handoff.objects.get(), sdr, manager


def test_two_people_dispositioning_at_once_store_exactly_one(open_handoff):
    handoff, sdr, manager = open_handoff
    results = run_together(
        lambda: services.disposition(handoff.pk, user=sdr, outcome="accepted"),
        lambda: services.disposition(handoff.pk, user=manager, outcome="bad_fit"),
    )
    errors = [r for r in results if isinstance(r, services.HandoffError)]
    assert len(errors) == 1 and "already marked this MQL" in str(errors[0])
    handoff.refresh_from_db()
    assert handoff.disposition in ("accepted", "bad_fit")


def test_concurrent_rescoring_never_opens_two_handoffs(open_handoff):
    handoff, sdr, _ = open_handoff
    services.disposition(handoff.pk, user=sdr, outcome="bad_data")
    lead = handoff.lead
    upsert_lead(email=lead.email, first_name="Dana")  # edited: eligible again, one opens
    Handoff.objects.filter(disposition="").delete()  # … now race to open it
    results = run_together(
        *[(lambda: rescore_leads([lead.pk], reason="rescore")) for _ in range(6)]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Handoff.objects.filter(lead=lead, disposition="").count() == 1


def test_two_handoffs_opened_at_once_go_to_two_sdrs_in_turn(transactional_db, monkeypatch):
    make_user("sam", SDR), make_user("kim", SDR)
    ruleset = load_default_ruleset(publish=True, sync=True)
    leads = [
        upsert_lead(email=f"vp@{name}.com", title="VP Sales", account={"domain": f"{name}.com"})[0]
        for name in ("acme", "globex")
    ]
    LeadScore.objects.filter(pk__in=[lead.pk for lead in leads]).update(cell="A1")
    read_owners = services._account_owners

    def slow_owners(leads):
        time.sleep(0.3)  # unless they take turns, both read the rotation before either moves it
        return read_owners(leads)

    monkeypatch.setattr(services, "_account_owners", slow_owners)
    results = run_together(
        *[(lambda lead=lead: services.open_handoffs(ruleset, [lead.pk])) for lead in leads]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    open_handoffs = Handoff.objects.filter(disposition="")
    assert sorted(open_handoffs.values_list("assigned_to__username", flat=True)) == ["kim", "sam"]


@pytest.fixture
def scored_leads(transactional_db):
    ruleset = load_default_ruleset(publish=True, sync=True)
    leads = [
        upsert_lead(
            email=f"lead{n}@northwind.com",
            title="VP Sales",
            account={"domain": "northwind.com", "industry": "Software", "employee_count": 300},
        )[0]
        for n in range(5)
    ]
    return ruleset, leads


def test_twenty_concurrent_batches_for_the_same_leads_lose_no_activity_and_no_score(
    scored_leads,
):
    _, leads = scored_leads
    now = timezone.now()

    def batch(sender: int):
        return lambda: ingest_activities(
            [
                NewActivity(
                    lead_id=lead.pk,
                    kind="demo_request" if n == 0 else "page_view",
                    url="/pricing",
                    occurred_at=now - timedelta(minutes=sender * 10 + n),
                    source="crm",
                    external_id=f"{sender}-{lead.pk}-{n}",
                )
                for lead in leads
                for n in range(10)
            ]
        )

    results = run_together(*[batch(sender) for sender in range(20)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Activity.objects.count() == 20 * len(leads) * 10
    for lead in Lead.objects.filter(pk__in=[lead.pk for lead in leads]):
        assert Handoff.objects.filter(lead=lead, disposition="").count() == 1
        # The stored score counts every activity: the last batch to score the lead saw all.
        expected = explain_lead(lead, as_of=lead.score.scored_at)
        assert lead.score.interest_score == pytest.approx(expected.interest, abs=1e-6)


def test_the_same_events_delivered_by_two_senders_at_once_are_stored_once_without_an_error(
    scored_leads,
):
    _, leads = scored_leads
    now = timezone.now()
    events = [
        NewActivity(
            lead_id=lead.pk,
            kind="page_view",
            url="/pricing",
            occurred_at=now - timedelta(minutes=n),
            source="webhook",
            external_id=f"evt-{lead.pk}-{n}",
        )
        for lead in leads
        for n in range(100)
    ]
    own = NewActivity(lead_id=leads[0].pk, kind="demo_request", occurred_at=now, source="crm")
    for attempt in range(5):  # the race is timing: each round starts both at one instant
        tagged = [replace(e, external_id=f"{e.external_id}-{attempt}") for e in events]
        results = run_together(
            lambda tagged=tagged: ingest_activities(tagged),
            # The other sender in the opposite order: the two must not deadlock.
            lambda tagged=tagged, attempt=attempt: ingest_activities(
                [*reversed(tagged), replace(own, external_id=f"own-{attempt}")]
            ),
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        assert sum(r.created for r in results) == len(events) + 1
        assert sum(r.duplicates for r in results) == len(events)
    assert Activity.objects.count() == 5 * (len(events) + 1)


def test_publishing_during_a_rescore_leaves_no_lead_with_the_old_rule_sets_score(
    scored_leads, monkeypatch
):
    old, leads = scored_leads
    Lead.objects.bulk_create(
        Lead(email=f"more{n}@northwind.com", title="VP Marketing", account=leads[0].account)
        for n in range(300)
    )
    new = clone_ruleset(old)
    FitRule.objects.filter(ruleset=new).update(points=F("points") + 5)
    published = threading.Event()
    score_chunk = scoring_services.rescore_chunk_now

    def score_chunk_then_wait_for_the_publish(run_id, *args, **kwargs):
        # After its third chunk the old run waits for the publish to land: on a fast machine it
        # otherwise scored all its chunks before the publish committed.
        changed = score_chunk(run_id, *args, **kwargs)
        run = RescoreRun.objects.get(pk=run_id)
        if run.ruleset_id == old.pk and run.done_chunks >= 3:
            published.wait(30)
        return changed

    monkeypatch.setattr(
        scoring_services, "rescore_chunk_now", score_chunk_then_wait_for_the_publish
    )

    def rescore_with_old():
        return start_rescore(old, reason="rescore", sync=True, chunk_size=10)

    def publish_new_midway():
        wait_until_some_chunks_are_done = time.monotonic() + 30
        while time.monotonic() < wait_until_some_chunks_are_done:
            if RescoreRun.objects.filter(ruleset=old, done_chunks__gte=3).exists():
                break
            time.sleep(0.01)
        try:
            return publish_ruleset(new)
        finally:
            published.set()

    results = run_together(rescore_with_old, publish_new_midway)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert results[0].leads_changed < 300  # the publish landed while the old run was going
    for lead in Lead.objects.all():
        assert lead.score.ruleset_version == new.version
        assert lead.score.fit_score == pytest.approx(
            explain_lead(lead, as_of=lead.score.scored_at).fit
        )


def test_a_rescore_run_here_scores_two_chunks_at_once_and_stores_what_one_at_a_time_would(
    scored_leads, settings, monkeypatch
):
    ruleset, leads = scored_leads
    Lead.objects.bulk_create(
        Lead(email=f"more{n}@northwind.com", title=title, account=leads[0].account)
        for n, title in enumerate(["VP Marketing", "Intern", "Sales Manager", ""] * 15)
    )
    Activity.objects.bulk_create(
        Activity(lead=lead, kind="page_view", url="/pricing", occurred_at=timezone.now())
        for lead in Lead.objects.all()[::3]
    )
    as_of = timezone.now()
    score_fields = (
        "pk",
        "score__fit_score",
        "score__interest_score",
        "score__cell",
        "score__ruleset_version",
        "score__scored_at",
    )

    def unscored():
        LeadScore.objects.update(scored_at=None, fit_score=0, interest_score=0, total_score=0)

    settings.RESCORE_SYNC_CONNECTIONS = 1
    unscored()
    start_rescore(ruleset, reason="rescore", as_of=as_of, sync=True, chunk_size=10)
    one_at_a_time = list(Lead.objects.order_by("pk").values_list(*score_fields))
    unscored()

    settings.RESCORE_SYNC_CONNECTIONS = 2
    real_chunk, lock = scoring_services.rescore_chunk_now, threading.Lock()
    running, most_at_once = [0], [0]
    first_two = {start for start, _ in lead_id_chunks(10)[:2]}
    both_running = threading.Barrier(2, timeout=10)  # broken (an error) unless they run at once

    def counted_chunk(run_id, start, stop, **options):
        with lock:
            running[0] += 1
            most_at_once[0] = max(most_at_once[0], running[0])
        try:
            if start in first_two:
                both_running.wait()
            return real_chunk(run_id, start, stop, **options)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(scoring_services, "rescore_chunk_now", counted_chunk)
    run = start_rescore(ruleset, reason="rescore", as_of=as_of, sync=True, chunk_size=10)

    assert most_at_once[0] == 2
    assert (run.status, run.done_chunks) == (RescoreRun.Status.DONE, run.total_chunks)
    assert run.leads_changed == Lead.objects.count()
    assert list(Lead.objects.order_by("pk").values_list(*score_fields)) == one_at_a_time


def test_a_decay_pass_scores_two_chunks_at_once_and_stores_what_one_at_a_time_would(
    scored_leads, settings, monkeypatch
):
    ruleset, leads = scored_leads
    Lead.objects.bulk_create(
        Lead(email=f"decay{n}@northwind.com", title="Intern", account=leads[0].account)
        for n in range(30)
    )
    Activity.objects.bulk_create(
        Activity(lead=lead, kind="page_view", url="/pricing", occurred_at=timezone.now() - age)
        for lead in Lead.objects.all()
        for age in (timedelta(days=3), timedelta(days=40))
    )
    start_rescore(ruleset, reason="rescore", sync=True)
    later = timezone.now() + timedelta(days=20)  # interest has decayed since
    score_fields = (
        "pk",
        "score__interest_score",
        "score__total_score",
        "score__cell",
        "score__scored_at",
    )
    small_chunks = lead_id_chunks(10)
    monkeypatch.setattr(scoring_services, "lead_id_chunks", lambda: small_chunks)
    before = list(Lead.objects.order_by("pk").values_list(*score_fields))

    settings.RESCORE_SYNC_CONNECTIONS = 1
    decay_scores(as_of=later)
    one_at_a_time = list(Lead.objects.order_by("pk").values_list(*score_fields))
    assert one_at_a_time != before
    names = [field.removeprefix("score__") for field in score_fields[1:]]
    for pk, *scores in before:
        LeadScore.objects.filter(pk=pk).update(**dict(zip(names, scores, strict=True)))

    settings.RESCORE_SYNC_CONNECTIONS = 2
    real_apply, lock = scoring_services.apply_scores, threading.Lock()
    running, most_at_once = [0], [0]
    first_two = {start for start, _ in small_chunks[:2]}
    both_running = threading.Barrier(2, timeout=10)  # broken (an error) unless they run at once

    def counted_apply(ruleset, selection, **options):
        with lock:
            running[0] += 1
            most_at_once[0] = max(most_at_once[0], running[0])
        try:
            if selection.start in first_two:
                both_running.wait()
            return real_apply(ruleset, selection, **options)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(scoring_services, "apply_scores", counted_apply)
    decay_scores(as_of=later)

    assert most_at_once[0] == 2
    assert list(Lead.objects.order_by("pk").values_list(*score_fields)) == one_at_a_time


def test_a_chunk_that_fails_stops_a_run_here_and_its_error_reaches_the_caller(
    scored_leads, settings, monkeypatch
):
    ruleset, _ = scored_leads
    Lead.objects.bulk_create(Lead(email=f"more{n}@northwind.com") for n in range(30))
    settings.RESCORE_SYNC_CONNECTIONS = 2
    chunks = lead_id_chunks(10)
    real_chunk, lock, started = scoring_services.rescore_chunk_now, threading.Lock(), []

    def failing_chunk(run_id, start, stop, **options):
        with lock:
            started.append(start)
        if start == chunks[0][0]:
            raise RuntimeError("the database went away")
        return real_chunk(run_id, start, stop, **options)

    monkeypatch.setattr(scoring_services, "rescore_chunk_now", failing_chunk)
    with pytest.raises(RuntimeError, match="went away"):
        start_rescore(ruleset, reason="rescore", sync=True, chunk_size=10)

    # The other connection finishes the chunk it had begun, and starts no other.
    assert set(started) <= {chunks[0][0], chunks[1][0]}
    run = RescoreRun.objects.latest("pk")
    assert (run.status, run.total_chunks) == (RescoreRun.Status.RUNNING, len(chunks))
    assert run.done_chunks == len(started) - 1  # for the stall sweep to queue the rest


def test_a_rescore_hands_off_its_new_mqls_after_its_scores_commit_so_an_edit_is_not_held_up(
    scored_leads, monkeypatch
):
    ruleset, leads = scored_leads
    lead, now = leads[0], timezone.now()
    Activity.objects.bulk_create(
        Activity(lead=lead, kind=kind, url="/pricing", occurred_at=now - timedelta(hours=n))
        for n, kind in enumerate(["demo_request", "page_view", "page_view", "page_view"])
    )
    edits = []
    open_handoffs = services.open_handoffs

    def edit_the_lead_then_open_handoffs(*args, **kwargs):
        # As an edit or an API batch does, from another connection: the lead's row, then its
        # score row. Inside the scores' transaction this waited for the rescore, which then
        # wanted the lead's row for its stage: a deadlock.
        def edit():
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
                list(Lead.objects.select_for_update(no_key=True).filter(pk=lead.pk))
                LeadScore.objects.filter(pk=lead.pk).update(fit_rules_digest=None)

        edits.extend(run_together(edit))
        return open_handoffs(*args, **kwargs)

    monkeypatch.setattr(services, "open_handoffs", edit_the_lead_then_open_handoffs)
    start_rescore(ruleset, reason="rescore", sync=True)

    assert edits == [None]  # the edit went through, without waiting for a lock
    assert Handoff.objects.filter(lead=lead, disposition="").count() == 1
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL
