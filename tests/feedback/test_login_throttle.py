"""Password guessing: five wrong passwords lock the username out for 15 minutes, with a message
that says so, on the site's login page and the admin's."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from feedback.login_throttle import LOCKED, MAX_FAILURES
from feedback.roles import MANAGER, SDR
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"  # make_user's


@pytest.fixture(autouse=True)
def fresh_counts():
    cache.clear()
    yield
    cache.clear()


def log_in(client: Client, username: str, password: str, *, url: str = "login"):
    return client.post(reverse(url), {"username": username, "password": password})


def test_after_five_wrong_passwords_even_the_right_one_is_refused_with_the_reason(client):
    make_user("sam", SDR)
    for _ in range(MAX_FAILURES):
        response = log_in(client, "sam", "guess")
        assert "That username and password don&#x27;t match." in response.content.decode()
    response = log_in(client, "sam", PASSWORD)
    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lock_is_per_username(client):
    make_user("sam", SDR)
    make_user("pat", SDR)
    for _ in range(MAX_FAILURES):
        log_in(client, "SAM", "guess")  # usernames are counted case-insensitively
    assert log_in(client, "pat", PASSWORD).status_code == 302


def test_a_successful_login_clears_the_count(client):
    make_user("sam", SDR)
    for _ in range(MAX_FAILURES - 1):
        log_in(client, "sam", "guess")
    assert log_in(client, "sam", PASSWORD).status_code == 302
    client.logout()
    for _ in range(MAX_FAILURES - 1):
        log_in(client, "sam", "guess")
    assert log_in(client, "sam", PASSWORD).status_code == 302


def test_the_admin_login_is_throttled_too(client):
    make_user("morgan", MANAGER, is_staff=True)
    for _ in range(MAX_FAILURES):
        log_in(client, "morgan", "guess", url="admin:login")
    response = log_in(client, "morgan", PASSWORD, url="admin:login")
    assert LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session
