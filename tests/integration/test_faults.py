"""Faults on the real services: Redis gone, a worker killed mid-rescore, PostgreSQL restarted
under load. Each runs the production processes (gunicorn, a Celery worker with its beat) against
a Redis or PostgreSQL of its own that it can break (docs/reliability.md lists them)."""

import re
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from django.db import connection, transaction

from api.services import create_token
from feedback.roles import SDR
from leads.models import Activity, Lead, LeadScore
from scoring.models import RescoreRun, RuleSet, ScoreChange
from scoring.services import CHUNK_SIZE, apply_scores, clone_ruleset, load_default_ruleset
from scoring.sql import LeadSelection
from tests.conftest import make_user

from .processes import (
    PrivatePostgres,
    PrivateRedis,
    Web,
    Worker,
    manage,
    production_env,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("real_services")]

PASSWORD = "a-long-password-for-tests"
T = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def static_root(tmp_path_factory) -> str:
    """Production serves collected, hashed static files (whitenoise), as after a deploy."""
    root = str(tmp_path_factory.mktemp("static"))
    env = production_env(
        database_url="sqlite://:memory:", redis_url="redis://127.0.0.1:6379", static_root=root
    )
    manage(env, "collectstatic", "--no-input", "-v0")
    return root


@pytest.fixture
def redis_server():
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def now() -> str:
    return datetime.now(UTC).isoformat()


def url_of_test_database() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def with_password(user: User) -> User:
    """The suite hashes with MD5 for speed; the production processes only accept real hashes."""
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "integrationsalt", iterations=1000)
    user.save(update_fields=["password"])
    return user


class Visitor:
    """A browser's part of a conversation with the site: cookies (the production ones are
    Secure, which `requests` would keep to HTTPS) and the CSRF token on every form post."""

    def __init__(self, base_url: str):
        self.base_url, self.cookies = base_url, {}

    def request(self, method: str, path: str, **options) -> requests.Response:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if method == "POST":
            options["data"] = {"csrfmiddlewaretoken": self.cookies["csrftoken"], **options["data"]}
            headers["Referer"] = self.base_url + path
        response = requests.request(
            method, self.base_url + path, headers=headers, allow_redirects=False, timeout=30,
            **options,
        )  # fmt: skip
        self.cookies.update(response.cookies.get_dict())
        return response

    def log_in(self, username: str) -> requests.Response:
        self.request("GET", "/accounts/login/")
        return self.request(
            "POST", "/accounts/login/", data={"username": username, "password": PASSWORD}
        )


def test_with_redis_down_the_api_and_pages_work_and_work_not_queued_runs_once_it_is_back(
    transactional_db, static_root, redis_server
):
    active = load_default_ruleset(publish=True, sync=True)
    draft = clone_ruleset(active)
    _, secret = create_token("CRM")
    api = {"Authorization": f"Bearer {secret}"}
    with_password(make_user("sam", SDR, first_name="Sam"))
    with_password(User.objects.create_superuser("root", "root@example.com", None))
    env = production_env(
        database_url=url_of_test_database(),
        redis_url=redis_server.url,
        static_root=static_root,
        RECOVERY_GRACE_SECONDS=1,
        RECOVERY_SWEEP_INTERVAL_SECONDS=1,
    )
    web = Web(env)
    try:
        redis_server.stop()

        health = requests.get(f"{web.url}/healthz", timeout=10)
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "database": "ok", "broker": "down"}

        lead = requests.post(
            f"{web.url}/api/v1/leads",
            json={"email": "dana@northwind.com", "title": "VP Marketing",
                  "account": {"domain": "northwind.com", "employee_count": 300}},
            headers=api, timeout=10,
        )  # fmt: skip
        assert lead.status_code == 201, lead.text
        ingest = requests.post(
            f"{web.url}/api/v1/activities",
            json={"email": "dana@northwind.com", "kind": "demo_request", "occurred_at": now()},
            headers=api,
            timeout=10,
        )
        assert ingest.status_code == 200, ingest.text
        assert ingest.json()["created"] == 1 and ingest.json()["leads_rescored"] == 1
        dana = Lead.objects.get(email="dana@northwind.com")
        assert dana.score.interest_score > 0 and dana.score.ruleset_version == active.version

        sam = Visitor(web.url)
        assert sam.log_in("sam").status_code == 302  # the login throttle's cache is down too
        queue = sam.request("GET", "/")
        assert queue.status_code == 200 and "Queue" in queue.text
        # whitenoise serves the collected, content-hashed stylesheet, cacheable for good.
        stylesheet = re.search(r'href="(/static/css/leadgauge\.[0-9a-f]{12}\.css)"', queue.text)
        assert stylesheet, "the page links the hashed stylesheet"
        css = requests.get(web.url + stylesheet[1], headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert css.status_code == 200 and "immutable" in css.headers["Cache-Control"]

        admin = Visitor(web.url)
        admin.log_in("root")
        published = admin.request("POST", f"/admin/scoring/ruleset/{draft.pk}/publish/", data={})
        assert published.status_code == 302
        run = RescoreRun.objects.get(ruleset=draft)
        assert run.status == RescoreRun.Status.RUNNING and run.queued_at is None
    finally:
        web.stop()

    redis_server.start()
    worker = Worker(env, beat=True)
    try:
        wait_for(
            lambda: RescoreRun.objects.get(pk=run.pk).status == RescoreRun.Status.DONE,
            timeout=90,
            what="the sweep to queue the publish's rescore and the worker to run it\n"
            + worker.output(),
        )
    finally:
        worker.stop()
    assert set(LeadScore.objects.values_list("ruleset_version", flat=True)) == {draft.version}
    assert '"message": "task not queued, the broker is unavailable"' in web.output()


def test_a_worker_killed_in_the_middle_of_a_rescore_is_resumed_with_the_same_scores(
    transactional_db, static_root, redis_server
):
    ruleset = load_default_ruleset(publish=False)  # active without a rescore of its own
    RuleSet.objects.filter(pk=ruleset.pk).update(status=RuleSet.Status.ACTIVE)
    # One lead per chunk, so the run has chunks before, at and after the one that dies.
    leads = Lead.objects.bulk_create(
        Lead(pk=1 + n * CHUNK_SIZE, email=f"lead{n}@northwind.com", title="VP Marketing")
        for n in range(5)
    )
    Activity.objects.bulk_create(
        Activity(lead=lead, kind="page_view", url="/pricing", occurred_at=T - timedelta(days=d))
        for lead in leads
        for d in range(1, 4)
    )
    env = production_env(
        database_url=url_of_test_database(),
        redis_url=redis_server.url,
        static_root=static_root,
        RESCORE_STALL_SECONDS=2,
        RECOVERY_SWEEP_INTERVAL_SECONDS=1,
    )

    # A row lock holds the third chunk's UPDATE, so the worker is killed inside that chunk.
    locked, release = threading.Event(), threading.Event()

    def hold_third_lead():
        with transaction.atomic():
            LeadScore.objects.select_for_update().get(pk=leads[2].pk)
            locked.set()
            release.wait(60)
        connection.close()

    holder = threading.Thread(target=hold_third_lead)
    holder.start()
    locked.wait(10)
    worker = Worker(env)
    try:
        manage(env, "rescore", "--as-of", T.isoformat())
        run = RescoreRun.objects.get()
        wait_for(
            lambda: RescoreRun.objects.get(pk=run.pk).done_chunks == 2 and blocked_on_a_lock(),
            timeout=60,
            what="the worker to reach the third chunk\n" + worker.output(),
        )
        worker.kill()
    finally:
        release.set()
        holder.join()
        worker.stop()
    run.refresh_from_db()
    assert run.status == RescoreRun.Status.RUNNING and run.done_chunks == 2

    worker = Worker(env, beat=True)
    try:
        wait_for(
            lambda: RescoreRun.objects.get(pk=run.pk).status == RescoreRun.Status.DONE,
            timeout=90,
            what="the sweep to resume the run\n" + worker.output(),
        )
    finally:
        worker.stop()
    run.refresh_from_db()
    assert run.done_chunks == run.total_chunks and run.leads_changed == len(leads)
    assert not Lead.objects.filter(score__scored_at__isnull=True).exists()
    # Scoring every lead again, as of the same instant, changes nothing: the stored scores are
    # exactly a clean run's.
    everyone = LeadSelection(ids=tuple(lead.pk for lead in leads))
    assert apply_scores(ruleset, everyone, as_of=T, reason=ScoreChange.Reason.RESCORE) == 0


def blocked_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.fixture
def postgres_server():
    server = PrivatePostgres()
    server.start()
    server.createdb()
    yield server
    server.remove()


def test_postgresql_restarted_under_load_fails_requests_cleanly_and_loses_no_activity(
    postgres_server, redis_server, static_root
):
    env = production_env(
        database_url=postgres_server.url, redis_url=redis_server.url, static_root=static_root
    )
    manage(env, "migrate", "--no-input", "-v0")
    api = {"Authorization": f"Bearer {manage(env, 'create_api_token', 'Load').strip()}"}
    web = Web(env)
    statuses: list[int] = []
    stored: list[str] = []
    stop = threading.Event()

    def send_activities(sender: int):
        """A well-behaved integration: each activity until it is acknowledged, retrying a
        503 (the contract's external_id makes a retry safe)."""
        for n in range(10_000):
            if stop.is_set():
                return
            external_id = f"{sender}-{n}"
            while True:
                response = requests.post(
                    f"{web.url}/api/v1/activities",
                    json={"email": f"lead{sender}@northwind.com", "kind": "page_view",
                          "url": "/pricing", "source": "load", "external_id": external_id,
                          "occurred_at": now()},
                    headers=api, timeout=30,
                )  # fmt: skip
                statuses.append(response.status_code)
                if response.status_code == 200:
                    stored.append(external_id)
                    break
                time.sleep(0.1)

    senders = [threading.Thread(target=send_activities, args=(n,)) for n in range(4)]
    for sender in senders:
        sender.start()
    try:
        time.sleep(1.5)
        postgres_server.stop()

        health = requests.get(f"{web.url}/healthz", timeout=10)
        assert (health.status_code, health.json()["database"]) == (503, "down")
        lookup = requests.get(
            f"{web.url}/api/v1/leads?email=lead0@northwind.com", headers=api, timeout=10
        )
        assert lookup.status_code == 503 and lookup.headers["Retry-After"] == "15"
        assert lookup.json()["detail"].startswith("The database is unavailable right now")
        visitor = Visitor(web.url)
        login = visitor.log_in("anyone")  # the login page itself needs no database
        assert login.status_code == 503 and "Back in a moment" in login.text

        postgres_server.start()
        wait_for(
            lambda: requests.get(f"{web.url}/healthz", timeout=10).status_code == 200,
            timeout=30,
            what="the web process to reconnect",
        )
        settled = len(stored)
        wait_for(lambda: len(stored) > settled + 20, timeout=30, what="activities after restart")
    finally:
        stop.set()
        for sender in senders:
            sender.join(60)
        web.stop()

    assert set(statuses) <= {200, 503}, f"unexpected answers: {set(statuses)}\n{web.output()}"
    assert 503 in statuses
    with psycopg.connect(postgres_server.url.replace("postgres://", "postgresql://")) as db:
        rows = db.execute(
            "SELECT external_id, count(*) FROM leads_activity WHERE source = 'load' "
            "GROUP BY external_id"
        ).fetchall()
    assert dict(rows) == dict.fromkeys(stored, 1)
    assert '"message": "database unavailable: /api/v1/activities"' in web.output()
