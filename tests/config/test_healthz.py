from unittest import mock

from django.db import DatabaseError


def test_it_reports_database_and_broker_without_login(client, db):
    with mock.patch("config.views.broker_status", return_value="ok"):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_it_answers_503_when_the_database_is_down(client, db):
    with mock.patch("config.health.connection.cursor", side_effect=DatabaseError("gone")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


def test_it_reports_an_unreachable_broker_but_stays_up(client, db, settings):
    with mock.patch("config.health.celery_app.connection_for_write", side_effect=OSError):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["broker"] == "down"
