"""A rescore survives a broker that is down and workers that die: its chunks are rows, each
counted once, and the recovery sweep queues whatever is left (the real-service versions of
these faults are in tests/integration/test_faults.py)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from leads.models import Lead
from scoring import tasks
from scoring.models import RescoreRun, ScoreChange
from scoring.services import (
    load_default_ruleset,
    rescore_chunk_now,
    resume_stalled_rescores,
    start_rescore,
)

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit queues the chunks


@pytest.fixture
def leads():
    return [
        Lead.objects.create(email=f"lead{n}@northwind.com", title="VP Marketing") for n in range(5)
    ]


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.rescore_chunk, "apply_async", refuse)
    return monkeypatch


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def test_a_publish_while_the_broker_is_down_is_queued_by_the_sweep_once_it_is_back(
    leads, broker_down
):
    run = load_default_ruleset(publish=True).rescore_runs.get()
    run.refresh_from_db()
    assert run.status == RescoreRun.Status.RUNNING and run.queued_at is None
    assert not Lead.objects.filter(score__scored_at__isnull=False).exists()

    assert (
        resume_stalled_rescores(now=later(settings.RECOVERY_GRACE_SECONDS + 1)) == []
    )  # still down
    broker_down.undo()
    assert resume_stalled_rescores(now=later(1)) == []  # too soon to call it lost
    [resumed] = resume_stalled_rescores(now=later(settings.RECOVERY_GRACE_SECONDS + 1))

    run.refresh_from_db()
    assert resumed == run and run.status == RescoreRun.Status.DONE
    assert run.done_chunks == run.total_chunks and run.queued_at is not None
    assert Lead.objects.filter(score__scored_at__isnull=False).count() == len(leads)


def test_a_chunk_delivered_twice_is_counted_once(leads):
    ruleset = load_default_ruleset(publish=False)
    ruleset.status = ruleset.Status.ACTIVE
    ruleset.save()
    first = leads[0].pk
    run = start_rescore(ruleset, reason=ScoreChange.Reason.RESCORE, sync=True, chunk_size=3)
    # Two chunks of three, the second cut in two (`lead_id_chunks`).
    assert (run.done_chunks, run.total_chunks, run.leads_changed) == (3, 3, 5)

    rescore_chunk_now(run.pk, first, first + 3, only_with_activity=False)  # redelivered
    run.refresh_from_db()
    assert (run.done_chunks, run.leads_changed, run.status) == (3, 5, RescoreRun.Status.DONE)


def test_a_run_that_stops_making_progress_is_queued_again_and_one_that_moves_is_not(leads):
    ruleset = load_default_ruleset(publish=False)
    ruleset.status = ruleset.Status.ACTIVE
    ruleset.save()
    run = RescoreRun.objects.create(
        ruleset=ruleset, reason=ScoreChange.Reason.RESCORE, total_chunks=2
    )
    first = leads[0].pk
    run.chunks.create(start=first, stop=first + 3)
    run.chunks.create(start=first + 3, stop=first + 6)
    RescoreRun.objects.filter(pk=run.pk).update(queued_at=timezone.now())
    rescore_chunk_now(run.pk, first, first + 3, only_with_activity=False)
    # The worker holding the second chunk died with it.

    stall = settings.RESCORE_STALL_SECONDS
    assert resume_stalled_rescores(now=later(stall / 2)) == []  # recent progress: still alive
    [resumed] = resume_stalled_rescores(now=later(stall + 1))
    run.refresh_from_db()
    assert resumed == run and run.status == RescoreRun.Status.DONE
    assert run.done_chunks == 2 and run.leads_changed == len(leads)
    assert not run.chunks.filter(done_at__isnull=True).exists()
