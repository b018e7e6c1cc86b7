"""What a person and an integration see when something underneath fails (the real outages are
in tests/integration/test_faults.py), and what the production log lines look like."""

import json
import logging

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError
from django.test import Client

from api.services import create_token
from config.logging import JsonFormatter

pytestmark = pytest.mark.django_db


def unreachable(*args, **kwargs):
    raise OperationalError('connection to server at "127.0.0.1", port 5432 failed')


@pytest.fixture
def unreachable_database(monkeypatch):
    monkeypatch.setattr(SessionStore, "load", unreachable)  # the first query of every page


def test_a_page_while_the_database_is_unreachable_is_a_calm_503_that_retries(
    unreachable_database,
):
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "a-session"
    response = client.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "15"
    assert b"Back in a moment" in response.content
    assert b"Nothing you saved is lost" in response.content


def test_an_api_call_while_the_database_is_unreachable_is_a_json_503(monkeypatch):
    _, secret = create_token("CRM")
    monkeypatch.setattr("api.auth.find_token", unreachable)  # the first query of every call
    response = Client(raise_request_exception=False).post(
        "/api/v1/activities",
        {"email": "dana@northwind.com", "kind": "demo_request"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "15"
    assert response.json()["detail"].startswith("The database is unavailable right now")


def test_any_other_failure_is_the_plain_500_page(monkeypatch, sdr):
    client = Client(raise_request_exception=False)
    client.force_login(sdr)
    monkeypatch.setattr("feedback.views.selectors.queue_for", lambda *a, **k: 1 / 0)
    response = client.get("/")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content


def test_production_log_lines_are_json_with_the_fields_passed_along():
    record = logging.LogRecord("scoring.services", logging.INFO, __file__, 1, "run %s", (7,), None)
    record.run = 7
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "INFO" and line["logger"] == "scoring.services"
    assert line["message"] == "run 7" and line["run"] == 7
    assert line["time"].endswith("+00:00")
