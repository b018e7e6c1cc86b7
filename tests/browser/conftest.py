"""Fixtures for the browser tests (pytest-playwright + pytest-django's live_server).

- One Chromium for the whole session: Debian's /usr/bin/chromium through `executable_path`, as
  Playwright's own browser download is not used on these machines (no `playwright install`).
- Every page gets the live server as its base URL, so tests write `page.goto("/")`; a test
  needs nothing else to get a working server and database.
- Tests here run with transactional_db (live_server's thread cannot see data inside the test's
  transaction) plus serialized rollback: the flush after each test would otherwise wipe the role
  groups created by a data migration, for every test that runs after it.
"""

import asyncio
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from playwright.sync_api import Page, Playwright, expect
from pytest_django import DjangoDbBlocker

from tests.conftest import REQUIRE_SERVICES

PASSWORD = "pw-for-tests-123"  # what tests.conftest.make_user gives every user
BROWSER_DIR = Path(__file__).resolve().parent

CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root in containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a browser test: `-m "not browser"` leaves them all out."""
    for item in items:
        if BROWSER_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Launch Debian's Chromium. Session-scoped like the fixture it overrides, so it cannot use
    the function-scoped `chromium_path` fixture; it looks the browser up the same way and, like
    it, skips without Chromium locally and fails when CI requires every service."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if REQUIRE_SERVICES:
            pytest.fail("browser tests need Debian's chromium (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed")
    return {
        **browser_type_launch_args,
        "executable_path": path,
        "args": CHROMIUM_ARGS,
        "headless": browser_type_launch_args.get("headless", True),  # --headed to watch
    }


# Playwright and Django in one thread ----------------------------------------------------------
#
# Playwright's sync API marks its asyncio loop as running in the main thread between calls. Django
# then (1) refuses ORM calls there: the tests' own ORM calls (creating users and rule sets) are
# ordinary synchronous code, so DJANGO_ALLOW_ASYNC_UNSAFE switches the check off while browser
# tests run; and (2) hands out a second set of database connections, kept per async context:
# connections without the test database's serialized copy, and with PostgreSQL a second session.
# So the fixtures below set up the test database and the live server before Playwright starts,
# then give Django the same connection objects inside Playwright's loop as outside it.
#
# After the last browser test of a run of them, the rest of the suite gets back what it expects:
# the variable is unset again (it would fail `manage.py check --deploy` in a subprocess, and hide
# real async mistakes), the loop is "parked" (unmarked), so asyncio.run() and async_to_sync()
# work again, and the database's migrated rows (role groups, permissions), which serialized
# rollback only restores at the *start* of a browser test, are put back.

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
_async_unsafe_before = os.environ.get(ASYNC_UNSAFE)
_parked_loop: list[asyncio.AbstractEventLoop] = []
_db_blocker: list[DjangoDbBlocker] = []


def _uses_playwright(item: pytest.Item | None) -> bool:
    return item is not None and "playwright" in getattr(item, "fixturenames", ())


def _park_loop() -> None:
    loop = asyncio._get_running_loop()
    if loop is not None:
        asyncio._set_running_loop(None)
        _parked_loop.append(loop)


def _resume_loop() -> None:
    if _parked_loop:
        asyncio._set_running_loop(_parked_loop.pop())


def _restore_migrated_rows() -> None:
    if not _db_blocker:
        return
    with _db_blocker[0].unblock():
        for connection in connections.all():
            if hasattr(connection, "_test_serialized_contents"):
                connection.creation.deserialize_db_from_string(connection._test_serialized_contents)


def _enter_browser_tests() -> None:
    os.environ[ASYNC_UNSAFE] = "true"
    _resume_loop()


def _leave_browser_tests(nextitem: pytest.Item | None) -> None:
    _park_loop()
    if _async_unsafe_before is None:
        os.environ.pop(ASYNC_UNSAFE, None)
    else:
        os.environ[ASYNC_UNSAFE] = _async_unsafe_before
    if nextitem is not None:  # else the test database is gone already
        _restore_migrated_rows()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """Called for every test of the session (this hook is not limited to this folder)."""
    if _uses_playwright(item):
        _enter_browser_tests()
    try:
        return (yield)
    finally:
        if _uses_playwright(item) and not _uses_playwright(nextitem):
            _leave_browser_tests(nextitem)


@pytest.fixture(scope="session")
def _django_connections(
    django_db_setup, django_db_blocker: DjangoDbBlocker, live_server
) -> dict[str, BaseDatabaseWrapper]:
    """The test database and the live server, ready before Playwright starts: the server must
    never start against the development database, and with in-memory SQLite it shares these
    connections."""
    _db_blocker[:] = [django_db_blocker]
    return {alias: connections[alias] for alias in connections}


@pytest.fixture(scope="session")
def playwright(_django_connections, playwright: Playwright) -> Iterator[Playwright]:
    """pytest-playwright's Playwright, started after the database, with Django's connections
    made the same inside its loop as outside."""
    for alias, connection in _django_connections.items():
        connections[alias] = connection
    yield playwright
    _resume_loop()  # Playwright stops by running its loop once more


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    """Pages open the live server: tests write `page.goto("/")`."""
    return live_server.url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """Desktop size, English, UTC and the light theme, so that screenshots come out the same on
    every machine."""
    return {
        **browser_context_args,
        "viewport": {"width": 1280, "height": 800},
        "locale": "en-US",
        "timezone_id": "UTC",
        "color_scheme": "light",
    }


@pytest.fixture(autouse=True)
def _browser_db(transactional_db, django_db_serialized_rollback, settings) -> None:
    """See the module docstring: data created in a test is visible to the live server, and the
    database (with its migrated role groups) is restored afterwards.

    Passwords are hashed with a fast hasher: every test creates a user and logs in, and the
    production hasher spends most of a second on each (the live server reads these settings)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def page(page: Page) -> Iterator[Page]:
    """pytest-playwright's page, with short timeouts (the live server is local) and a check that
    no script error and no failed request for our own static files happened."""
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} for {response.url}")
            if response.status >= 400 and "/static/" in response.url
            else None
        ),
    )
    yield page
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)


@pytest.fixture
def log_in(page: Page, live_server) -> Callable[..., Page]:
    """Log a user in through the real login form; returns the page, now on the home page."""

    def log_in(user: User, password: str = PASSWORD) -> Page:
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{live_server.url}/")
        return page

    return log_in
