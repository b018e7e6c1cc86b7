import hashlib
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from api.models import ApiToken
from api.services import create_token, revoke_tokens
from leads.models import Lead

from .conftest import ApiClient

pytestmark = pytest.mark.django_db

LEAD = {"email": "dana@northwind.com"}


def assert_refused(response, message: str) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {"detail": message, "errors": []}
    assert not Lead.objects.exists()


def test_only_the_hash_of_a_token_is_stored():
    token, secret = create_token("Website")
    assert secret.startswith("lg_") and len(secret) > 40
    stored = ApiToken.objects.values().get(pk=token.pk)
    assert stored["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert stored["prefix"] == secret[:8]
    assert not any(secret in str(value) for value in stored.values())


def test_create_api_token_prints_the_token_once():
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "CRM sync", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    assert re.fullmatch(r"lg_[A-Za-z0-9_-]{43}", secret)
    assert secret not in err.getvalue()
    token = ApiToken.objects.get(key_hash=ApiToken.hash(secret))
    assert token.name == "CRM sync" and token.is_active
    assert ApiClient(secret).get("leads", email="nobody@example.com").status_code == 404


def test_without_a_token_the_api_answers_401():
    assert_refused(
        ApiClient(None).post("leads", LEAD),
        "Authentication required: send Authorization: Bearer TOKEN.",
    )


def test_a_wrong_token_is_refused(token):
    assert_refused(ApiClient(token + "x").post("leads", LEAD), "Invalid token.")


def test_a_token_in_another_scheme_is_refused(token):
    client = ApiClient(None)
    client.headers = {"Authorization": f"Token {token}"}
    assert_refused(client.post("leads", LEAD), "Use the header Authorization: Bearer TOKEN.")


def test_a_revoked_token_is_refused(token):
    revoke_tokens(ApiToken.objects.all())
    assert_refused(ApiClient(token).post("leads", LEAD), "This token has been revoked.")


def test_a_logged_in_session_is_not_an_api_credential(admin_client):
    response = admin_client.post("/api/v1/leads", LEAD, content_type="application/json")
    assert response.status_code == 401
    assert not Lead.objects.exists()


def test_token_calls_need_no_csrf_token(api):
    # ApiClient enforces CSRF checks like a browser would; a bearer call passes without a cookie.
    assert api.post("leads", LEAD).status_code == 201


def test_last_used_is_recorded_at_most_once_a_minute(api):
    token = ApiToken.objects.get()
    assert token.last_used_at is None
    api.get("leads", email="x@example.com")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    api.get("leads", email="x@example.com")
    token.refresh_from_db()
    assert token.last_used_at == first  # no write for a second call within the minute
    ApiToken.objects.update(last_used_at=first - timedelta(minutes=2))
    api.get("leads", email="x@example.com")
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(seconds=1)
    assert timezone.now() - token.last_used_at < timedelta(seconds=5)


def test_an_api_token_cannot_reach_the_admin(token):
    response = Client().get("/admin/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_the_admin_shows_a_new_token_once_and_stores_its_hash(admin_client):
    response = admin_client.post("/admin/api/apitoken/add/", {"name": "Website"}, follow=True)
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    secret = next(re.search(r"lg_[A-Za-z0-9_-]+", m).group() for m in shown if "lg_" in m)
    token = ApiToken.objects.get()
    assert token.key_hash == ApiToken.hash(secret)
    assert token.created_by.username == "admin"
    listing = admin_client.get("/admin/api/apitoken/").content.decode()
    assert token.prefix in listing and secret not in listing


def test_the_admin_revokes_tokens(admin_client, token):
    api_token = ApiToken.objects.get()
    response = admin_client.post(
        "/admin/api/apitoken/",
        {"action": "revoke", "_selected_action": [api_token.pk]},
        follow=True,
    )
    assert response.status_code == 200
    api_token.refresh_from_db()
    assert api_token.revoked_at is not None
    assert ApiClient(token).get("leads", email="x@example.com").status_code == 401


def test_unknown_paths_and_methods_answer_json(api):
    missing = api.get("nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "No such endpoint.", "errors": []}
    wrong_method = api.client.put("/api/v1/activities", headers=api.headers)
    assert wrong_method.status_code == 405
    assert "POST" in wrong_method["Allow"]
    assert set(wrong_method.json()) == {"detail", "errors"}
