import json
from typing import Any

import pytest
from django.test import Client

from api.services import create_token
from scoring.services import load_default_ruleset


class ApiClient:
    """A test client that speaks the API: JSON bodies and the bearer token on every call."""

    def __init__(self, token: str | None) -> None:
        # enforce_csrf_checks: the API must work as a real integration calls it, with no cookie.
        self.client = Client(enforce_csrf_checks=True)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, **params: Any):
        return self.client.get(f"/api/v1/{path}", params, headers=self.headers)

    def post(self, path: str, data: Any = None, *, raw: str | bytes | None = None):
        body = raw if raw is not None else json.dumps(data)
        return self.client.post(
            f"/api/v1/{path}", body, content_type="application/json", headers=self.headers
        )


@pytest.fixture
def token(db) -> str:
    _, secret = create_token("Tests")
    return secret


@pytest.fixture
def api(token) -> ApiClient:
    return ApiClient(token)


@pytest.fixture
def anonymous(db) -> ApiClient:
    return ApiClient(None)


@pytest.fixture
def ruleset(db):
    return load_default_ruleset(publish=True, sync=True)


def only_error(response) -> dict:
    """The single error item of an error answer (and a check of the answer's shape)."""
    body = response.json()
    assert set(body) == {"detail", "errors"}, body
    assert len(body["errors"]) == 1, body
    return body["errors"][0]
