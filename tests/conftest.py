import json
import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db import connection
from django.test.utils import override_settings

from config.celery import app as celery_app
from feedback.models import SdrProfile
from feedback.roles import MANAGER, MARKETING, SDR

REQUIRE_SERVICES = os.environ.get("LEADGAUGE_REQUIRE_SERVICES") == "1"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(autouse=True, scope="session")
def eager_celery():
    """Unit tests run tasks in-process; the integration tests start a real worker instead."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """Every test makes users with passwords; the production hasher's deliberate slowness would
    be most of the suite's time."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: the live calibration figures and the login
    throttle keep state there, which must not leak from one test into the next."""
    cache.clear()
    yield
    cache.clear()


def _missing_services() -> str | None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "DATABASE_URL does not point at PostgreSQL"
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        return "CELERY_BROKER_URL does not point at Redis"
    return None


@pytest.fixture
def real_services():
    """Skip (or, under CI, fail) when PostgreSQL and Redis are not configured."""
    missing = _missing_services()
    if missing:
        if REQUIRE_SERVICES:
            pytest.fail(f"integration test needs the real services: {missing}")
        pytest.skip(f"needs PostgreSQL and Redis: {missing}")


def heap_fetches_counting_leads() -> int:
    """How many leads' rows PostgreSQL reads to count the leads per cell, as the matrix does:
    every one whose page the visibility map does not mark all-visible (a vacuum marks them).
    Without a vacuum it is one per lead; after one, none."""
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        try:
            cursor.execute(
                "EXPLAIN (ANALYZE, FORMAT JSON) "
                "SELECT cell, COUNT(cell) FROM leads_leadscore GROUP BY cell"
            )
            (plan,) = cursor.fetchone()
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_bitmapscan")
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes, fetches = [plan[0]["Plan"]], []
    while nodes:
        node = nodes.pop()
        if node["Node Type"] == "Index Only Scan":
            fetches.append(node["Heap Fetches"])
        nodes.extend(node.get("Plans", []))
    assert fetches, "the count did not use the cell index"
    return sum(fetches)


def make_user(username: str, role: str | None = None, **extra) -> User:
    user = User.objects.create_user(
        username, f"{username}@example.com", "pw-for-tests-123", **extra
    )
    if role:
        # get_or_create: a transactional test's flush removes the groups the migration made.
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    if role == SDR:
        SdrProfile.objects.create(user=user)
    return user


@pytest.fixture
def sdr(db):
    return make_user("sam", SDR, first_name="Sam", last_name="Reyes")


@pytest.fixture
def marketer(db):
    return make_user("maria", MARKETING, first_name="Maria", is_staff=True)


@pytest.fixture
def manager(db):
    return make_user("morgan", MANAGER, first_name="Morgan", is_staff=True)


@pytest.fixture
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if REQUIRE_SERVICES:
            pytest.fail("browser tests need Debian's chromium (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed")
    return path
