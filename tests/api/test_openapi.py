import pytest

from .conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_the_openapi_document_describes_every_endpoint(api):
    response = api.get("openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {path: set(ops) for path, ops in schema["paths"].items()} == {
        "/api/v1/leads": {"get", "post"},
        "/api/v1/leads/{lead_id}": {"get"},
        "/api/v1/activities": {"post"},
        "/api/v1/outcomes": {"post"},
    }
    assert schema["components"]["securitySchemes"]["ApiTokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    for operations in schema["paths"].values():
        for operation in operations.values():
            assert operation["security"] == [{"ApiTokenAuth": []}]
            assert "422" in operation["responses"] and "401" in operation["responses"]


def test_the_bodies_checked_item_by_item_are_documented(api):
    schema = api.get("openapi.json").json()
    body = schema["paths"]["/api/v1/activities"]["post"]["requestBody"]
    refs = body["content"]["application/json"]["schema"]["oneOf"]
    assert [r["$ref"].rsplit("/", 1)[1] for r in refs] == ["ActivityIn", "ActivityBatchIn"]
    components = schema["components"]["schemas"]
    activity = components["ActivityIn"]
    assert activity["additionalProperties"] is False
    assert set(activity["required"]) == {"kind", "occurred_at"}
    assert components["ActivityBatchIn"]["properties"]["activities"]["maxItems"] == 1000
    assert components["LeadIn"]["properties"]["account"]
    assert {"OutcomeIn", "OutcomeBatchIn", "ErrorOut", "LeadOut"} <= set(components)


def test_the_document_needs_a_token_or_a_signed_in_user(admin_client):
    anonymous = ApiClient(None).get("openapi.json")
    assert anonymous.status_code == 401
    assert set(anonymous.json()) == {"detail", "errors"}
    assert admin_client.get("/api/v1/openapi.json").status_code == 200
