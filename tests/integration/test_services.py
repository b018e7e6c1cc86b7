"""The real parts: PostgreSQL, Redis and a Celery worker process (not eager mode)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from leads.models import Lead
from leads.services import record_activity, upsert_lead
from scoring.models import RescoreRun
from scoring.services import load_default_ruleset
from tests.conftest import heap_fetches_counting_leads

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("real_services")]


def test_the_database_is_postgresql(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")


def test_the_cache_and_broker_answer_on_redis():
    assert redis.Redis.from_url(settings.CELERY_BROKER_URL).ping()
    from django.core.cache import cache

    cache.set("leadgauge-integration", "here", 10)
    assert cache.get("leadgauge-integration") == "here"


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real worker on Redis, pointed at the test database."""
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    queue = f"itest-{os.getpid()}"
    env["CELERY_TASK_DEFAULT_QUEUE"] = queue  # the tasks the worker queues itself go there too
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield worker
    finally:
        celery_app.conf.task_always_eager = True
        celery_app.conf.task_default_queue = "celery"
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_publishing_rescores_every_lead_through_a_real_worker(celery_worker_process):
    dana, *_ = upsert_lead(
        email="dana@northwind-logistics.com",
        title="VP Marketing",
        account={
            "domain": "northwind-logistics.com",
            "name": "Northwind",
            "industry": "Logistics",
            "employee_count": 300,
            "country": "US",
        },
    )
    student, *_ = upsert_lead(email="kim@gmail.com", title="Student")
    from django.utils import timezone

    record_activity(lead=dana, kind="demo_request", occurred_at=timezone.now())
    assert Lead.objects.get(pk=dana.pk).score.scored_at is None  # no rule set yet: nothing scored

    run = load_default_ruleset(publish=True).rescore_runs.get()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status == RescoreRun.Status.DONE:
            break
        if celery_worker_process.poll() is not None:
            pytest.fail("the worker died:\n" + celery_worker_process.stdout.read())
        time.sleep(0.25)
    assert run.status == RescoreRun.Status.DONE, "the worker did not finish the rescore"

    dana.refresh_from_db()
    student.refresh_from_db()
    assert dana.score.scored_at is not None
    assert dana.score.fit_tier == "A" and dana.score.interest_score == pytest.approx(40, abs=0.1)
    assert student.score.fit_score < 0

    # The worker that finished the run vacuumed the leads: counting them reads the index alone.
    assert heap_fetches_counting_leads() == 0
