import json
from datetime import UTC, datetime, timedelta

import pydantic
import pytest
from django.utils import timezone

from api.schemas import ActivityBatchIn, ErrorItem, errors_from_pydantic
from leads.models import Activity, Lead
from leads.services import upsert_lead

from .conftest import only_error
from .test_leads import counts

pytestmark = pytest.mark.django_db


def activity(**fields) -> dict:
    return {
        "email": "dana@northwind.com",
        "kind": "page_view",
        "occurred_at": "2026-01-15T10:00:00Z",
        "url": "https://example.com/pricing",
        "properties": {"campaign": "spring"},
        "source": "website",
        "external_id": "evt-1",
        **fields,
    }


def assert_single_refused(api, item: dict, field: str | None, message: str) -> None:
    """A single invalid activity: 422 naming the field, and nothing written at all."""
    before = counts()
    response = api.post("activities", item)
    assert response.status_code == 422
    assert only_error(response) == {"index": 0, "field": field, "message": message}
    assert counts() == before


def test_one_activity_is_stored_its_lead_created_and_rescored(api, ruleset):
    response = api.post("activities", activity(occurred_at=timezone.now().isoformat()))
    assert response.status_code == 200
    assert response.json() == {
        "created": 1,
        "duplicates": 0,
        "rejected": 0,
        "leads_created": 1,
        "leads_rescored": 1,
        "errors": [],
    }
    stored = Activity.objects.get()
    assert (stored.kind, stored.url, stored.source, stored.external_id) == (
        "page_view",
        "https://example.com/pricing",
        "website",
        "evt-1",
    )
    assert stored.properties == {"campaign": "spring"}
    lead = Lead.objects.get()
    assert lead.score.interest_score == pytest.approx(12, abs=0.01)  # "Pricing visit", just now
    assert lead.score.scored_at is not None


def test_a_lead_can_be_named_by_its_id(api):
    lead, *_ = upsert_lead(email="dana@northwind.com")
    item = activity(lead_id=lead.pk, external_id=None)
    del item["email"]
    response = api.post("activities", item)
    assert response.json()["created"] == 1
    assert Activity.objects.get().lead == lead


def test_null_optional_fields_mean_not_given(api):
    item = activity(url=None, properties=None, source=None, external_id=None)
    assert api.post("activities", item).json()["created"] == 1
    stored = Activity.objects.get()
    assert (stored.url, stored.properties, stored.source, stored.external_id) == ("", {}, "", None)


def test_a_retry_without_an_external_id_is_still_a_duplicate(api):
    item = activity(external_id=None)
    api.post("activities", item)
    assert api.post("activities", item).json()["duplicates"] == 1
    assert Activity.objects.count() == 1


def test_a_retry_is_a_duplicate_not_a_second_activity(api):
    assert api.post("activities", activity()).json()["created"] == 1
    retry = api.post("activities", activity())
    assert retry.status_code == 200
    assert (retry.json()["created"], retry.json()["duplicates"]) == (0, 1)
    assert Activity.objects.count() == 1


def test_the_same_external_id_twice_in_one_batch_is_stored_once(api):
    response = api.post("activities", {"activities": [activity(), activity(url="/other")]})
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["duplicates"]) == (1, 1)
    assert Activity.objects.count() == 1


def test_the_same_external_ids_across_batches_are_duplicates(api):
    batch = {"activities": [activity(external_id=f"evt-{n}") for n in range(3)]}
    assert api.post("activities", batch).json()["created"] == 3
    again = api.post("activities", batch).json()
    assert (again["created"], again["duplicates"], again["rejected"]) == (0, 3, 0)
    assert Activity.objects.count() == 3


def test_the_same_id_from_another_source_is_another_activity(api):
    api.post("activities", activity())
    response = api.post("activities", activity(source="crm"))
    assert response.json()["created"] == 1


def test_a_lead_id_past_any_database_id_is_no_such_lead_not_a_crash(api):
    lead, *_ = upsert_lead(email="known@northwind.com")
    past = {"lead_id": 2**63, "kind": "page_view", "occurred_at": "2026-01-15T10:00:00Z"}
    response = api.post("activities", {"activities": [past, activity(lead_id=lead.pk, email=None)]})
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["rejected"]) == (1, 1)
    assert body["errors"] == [{"index": 0, "field": "lead_id", "message": "No such lead."}]


def test_in_a_batch_invalid_items_are_rejected_one_by_one(api):
    lead, *_ = upsert_lead(email="known@northwind.com")
    batch = {
        "activities": [
            activity(external_id="ok-1"),
            activity(external_id="bad-1", kind="Page View"),
            "not an object",
            activity(external_id="ok-2", email="new@northwind.com"),
            {
                "lead_id": 999_999,
                "kind": "page_view",
                "occurred_at": "2026-01-15T10:00:00Z",
            },
            activity(external_id="bad-2", occurred_at="yesterday", colour="red"),
        ]
    }
    response = api.post("activities", batch)
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["rejected"], body["leads_created"]) == (2, 4, 2)
    assert body["errors"] == [
        {
            "index": 1,
            "field": "kind",
            "message": "Use lower-case letters, digits and underscores only "
            "(for example page_view).",
        },
        {"index": 2, "field": None, "message": "Must be a JSON object."},
        {"index": 4, "field": "lead_id", "message": "No such lead."},
        {
            "index": 5,
            "field": "occurred_at",
            "message": "'yesterday' is not an ISO 8601 date and time (e.g. 2026-05-01T09:30:00Z).",
        },
        {"index": 5, "field": "colour", "message": "Unknown field."},
    ]
    assert sorted(Activity.objects.values_list("external_id", flat=True)) == ["ok-1", "ok-2"]
    assert Lead.objects.count() == 3  # known, dana, new
    assert not lead.activities.exists()


def test_a_batch_error_path_names_the_item_and_its_field():
    batch = {"activities": [activity(), activity(), activity(), activity(occurred_at="soon")]}
    with pytest.raises(pydantic.ValidationError) as error:
        ActivityBatchIn.model_validate(batch)
    assert errors_from_pydantic(error.value.errors(), batch_keys=("activities",)) == [
        ErrorItem(
            index=3,
            field="occurred_at",
            message="'soon' is not an ISO 8601 date and time (e.g. 2026-05-01T09:30:00Z).",
        )
    ]


def test_malformed_json_is_a_400(api):
    response = api.post("activities", raw='{"email": "dana@northwind.com", "kind": ')
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith("Malformed JSON: Expecting value: line 1")
    assert body["errors"] == []
    assert counts() == (0, 0, 0, 0)


def test_a_body_that_is_not_an_object_is_a_422(api):
    for body in ([activity()], 42, "page_view"):
        response = api.post("activities", body)
        assert response.status_code == 422
        assert only_error(response) == {
            "index": None,
            "field": None,
            "message": "Must be a JSON object.",
        }
    assert counts() == (0, 0, 0, 0)


def test_a_batch_that_is_not_a_list_is_a_422(api):
    response = api.post("activities", {"activities": activity(), "extra": 1})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"index": None, "field": "extra", "message": "Unknown field."},
        {"index": None, "field": "activities", "message": "Must be a list."},
    ]
    assert counts() == (0, 0, 0, 0)


def test_a_wrong_type_is_refused(api):
    assert_single_refused(api, activity(kind=5), "kind", "Input should be a valid string.")
    assert_single_refused(api, activity(properties=["a"]), "properties", "Must be a JSON object.")


def test_a_unix_time_is_not_taken_for_a_date(api):
    assert_single_refused(
        api,
        activity(occurred_at=1767261600),
        "occurred_at",
        "Enter an ISO 8601 date and time, e.g. 2026-05-01T09:30:00Z.",
    )


def test_an_unknown_field_is_refused(api):
    assert_single_refused(api, activity(colour="red"), "colour", "Unknown field.")


def test_a_bad_email_is_refused(api):
    assert_single_refused(
        api,
        activity(email="dana@"),
        "email",
        "'dana@' is not a valid e-mail address.",
    )


def test_a_bad_email_is_refused_every_time_it_comes(api):
    # Checked addresses are remembered; a bad one stays bad.
    batch = {"activities": [activity(email="dana@"), activity(), activity(email=" DANA@")]}
    for created in (1, 0):
        response = api.post("activities", batch)
        assert response.status_code == 200
        body = response.json()
        assert (body["created"], body["rejected"]) == (created, 2)
        assert [(e["index"], e["field"]) for e in body["errors"]] == [(0, "email"), (2, "email")]


def test_an_unknown_kind_format_is_refused(api):
    assert_single_refused(
        api,
        activity(kind="Page View"),
        "kind",
        "Use lower-case letters, digits and underscores only (for example page_view).",
    )


def test_neither_or_both_ways_to_name_the_lead_are_refused(api):
    lead, *_ = upsert_lead(email="dana@northwind.com")
    item = activity()
    del item["email"]
    assert_single_refused(api, item, "email", "Give the lead's email or its lead_id.")
    assert_single_refused(
        api,
        activity(lead_id=lead.pk),
        "lead_id",
        "Give the lead's email or its lead_id, not both.",
    )


def test_an_unknown_lead_id_is_refused(api):
    item = activity(lead_id=424242)
    del item["email"]
    assert_single_refused(api, item, "lead_id", "No such lead.")


def test_a_time_without_an_offset_is_in_the_site_time_zone(api, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    response = api.post("activities", activity(occurred_at="2026-01-15T10:00:00"))
    assert response.json()["created"] == 1
    # 10:00 in Berlin (CET, UTC+1) is 09:00 UTC.
    assert Activity.objects.get().occurred_at == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def test_more_than_a_day_in_the_future_is_refused(api):
    later = timezone.now() + timedelta(hours=25)
    assert_single_refused(
        api,
        activity(occurred_at=later.isoformat()),
        "occurred_at",
        "More than 24 hours in the future.",
    )
    soon = timezone.now() + timedelta(hours=23)
    assert api.post("activities", activity(occurred_at=soon.isoformat())).json()["created"] == 1


def test_a_time_before_1970_is_refused(api):
    assert_single_refused(
        api,
        activity(occurred_at="0108-02-19T10:59:44+20:29"),
        "occurred_at",
        "Before 1970: check the date (a Unix time in the wrong unit?).",
    )


def test_an_offset_postgresql_cannot_store_is_kept_as_the_same_instant(api):
    # ISO 8601 allows +20:29; PostgreSQL refuses offsets past ±15:59, so times go in as UTC.
    response = api.post("activities", activity(occurred_at="2026-01-15T23:59:00+20:29"))
    assert response.json()["created"] == 1
    assert Activity.objects.get().occurred_at == datetime(2026, 1, 15, 3, 30, tzinfo=UTC)


def test_a_batch_of_1001_is_a_413_and_stores_nothing(api):
    batch = {"activities": [activity(external_id=f"evt-{n}") for n in range(1001)]}
    response = api.post("activities", batch)
    assert response.status_code == 413
    assert response.json() == {
        "detail": "A batch holds at most 1,000 items; this one has 1,001.",
        "errors": [],
    }
    assert counts() == (0, 0, 0, 0)


def test_a_batch_of_1000_is_accepted(api):
    batch = {"activities": [activity(external_id=f"evt-{n}") for n in range(1000)]}
    response = api.post("activities", batch)
    assert response.status_code == 200
    assert response.json()["created"] == 1000


def test_an_oversized_body_is_a_413_before_it_is_read(api):
    padding = "x" * (5 * 1024 * 1024)
    response = api.post("activities", raw=json.dumps(activity(properties={"pad": padding})))
    assert response.status_code == 413
    body = response.json()
    assert body["detail"].startswith("The request body is larger than ")
    assert body["errors"] == []
    assert counts() == (0, 0, 0, 0)


def test_properties_over_16_kb_are_refused_naming_the_field(api):
    response = api.post("activities", activity(properties={"notes": "x" * 17_000}))
    assert response.status_code == 422
    assert only_error(response) == {
        "index": 0,
        "field": "properties",
        "message": "At most 16,384 bytes of JSON; this is 17,013.",
    }
    assert counts() == (0, 0, 0, 0)


def test_properties_nested_deeper_than_eight_levels_are_refused(api):
    deep: dict = {"level": 9}
    for _ in range(8):
        deep = {"inner": deep}
    response = api.post("activities", activity(properties=deep))
    assert response.status_code == 422
    assert only_error(response)["message"] == "At most 8 levels of nesting."
    assert api.post("activities", activity(properties=deep["inner"])).status_code == 200


def test_json_nested_thousands_deep_is_a_400_not_a_crash(api):
    body = '{"activities": ' + "[" * 50_000 + "]" * 50_000 + "}"
    response = api.post("activities", raw=body)
    assert response.status_code == 400
    assert response.json()["detail"] == "Malformed JSON: nested too deeply."
