"""The JSON API of contract §3, mounted at /api/v1/. Endpoints parse input, call one service and
answer; every error is `{"detail": ..., "errors": [{"index", "field", "message"}]}`."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Router, Status
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser

from config.views import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS
from feedback.services import record_outcomes
from leads.models import Lead
from leads.services import ingest_activities, normalize_email, upsert_lead
from scoring.models import RuleSet

from .auth import ApiTokenAuth, bearer_token
from .schemas import (
    MAX_BATCH,
    ActivityBatchIn,
    ActivityIn,
    ApiError,
    ErrorItem,
    ErrorOut,
    IngestOut,
    LeadIn,
    LeadOut,
    OutcomeBatchIn,
    OutcomeIn,
    OutcomesOut,
    errors_from_django,
    errors_from_pydantic,
    validate_items,
)

logger = logging.getLogger("django.request")

# A full batch of 1,000 activities with long URLs and properties stays well below this; anything
# larger is refused before it is read. Django's own DATA_UPLOAD_MAX_MEMORY_SIZE also applies.
MAX_BODY_BYTES = 5 * 1024 * 1024

EMPTY_BODY = "Malformed JSON: the request body is empty."
NUL_MESSAGE = "Contains the NUL character (\\u0000), which text cannot hold."
ERRORS = {code: ErrorOut for code in (400, 401, 404, 413, 422)}


def max_body_bytes() -> int:
    django_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return min(MAX_BODY_BYTES, django_limit) if django_limit is not None else MAX_BODY_BYTES


def too_large() -> ApiError:
    return ApiError(413, f"The request body is larger than {max_body_bytes():,} bytes.")


def error_response(status: int, detail: str, errors: list[dict] | None = None) -> JsonResponse:
    response = JsonResponse({"detail": detail, "errors": errors or []}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def malformed(error: Exception) -> str:
    return f"Malformed JSON: {error}."


def nul_field(value: Any, path: str = "") -> str | None:
    """The dotted path of the first text (or key) holding a NUL character, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if "\x00" in key:
                return where.replace("\x00", "\\u0000")
            found = nul_field(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_field(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def holds_nul(field: str | None) -> ApiError:
    """The 422 for a text holding NUL: PostgreSQL refuses it in text and JSON, even to compare."""
    return ApiError(
        422, "The request is invalid.", [ErrorItem(index=None, field=field, message=NUL_MESSAGE)]
    )


def parse_json(body: bytes) -> Any:
    """The body's JSON. A NUL character is valid JSON that PostgreSQL cannot store in text or
    JSON, so it is refused here, once, for every endpoint."""
    try:
        data = json.loads(body)
        # JSON spells a NUL in text as the escape \u0000 (a raw one is malformed), so a body
        # without one, and without NUL bytes (UTF-16 or UTF-32), needs no walk through its items.
        field = nul_field(data) if b"\\u0000" in body or b"\x00" in body else None
    except ValueError as error:  # UnicodeDecodeError is a ValueError too
        raise ApiError(400, malformed(error)) from None
    except RecursionError:  # hundreds of levels: no request of ours nests like that
        raise ApiError(400, "Malformed JSON: nested too deeply.") from None
    if field is not None:
        raise holds_nul(field or None)
    return data


class JsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return parse_json(request.body)
        except ApiError as error:
            # ninja answers any parse failure with a bare 400; keep ours for the answer.
            request.api_parse_failure = error
            raise


class LeadgaugeApi(NinjaAPI):
    # Bodies the endpoints validate item by item (so ninja does not) still belong in the schema.
    extra_schemas = (ActivityIn, ActivityBatchIn, OutcomeIn, OutcomeBatchIn)

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in self.extra_schemas:
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        return schema


def docs_access(view: Callable) -> Callable:
    """The schema is for integrators (a token) and for staff reading the docs (a session)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if bearer_token(request) is None and not request.user.is_authenticated:
            if request.resolver_match and request.resolver_match.url_name == "openapi-view":
                return redirect_to_login(request.get_full_path())  # a person, in a browser
            return error_response(401, "Authentication required: send Authorization: Bearer TOKEN.")
        return view(request, *args, **kwargs)

    return wrapped


api = LeadgaugeApi(
    title="Leadgauge API",
    version="1",
    description="Leads, activity and outcomes in; scores and their explanation out. "
    "Every endpoint needs `Authorization: Bearer TOKEN` (tokens are created in the admin).",
    urls_namespace="api-v1",
    auth=ApiTokenAuth(),
    parser=JsonParser(),
    # Swagger UI is served from ninja's vendored files when "ninja" is an installed app; without
    # it ninja would load them from a CDN, which the product does not use.
    docs_url="/docs" if "ninja" in settings.INSTALLED_APPS else None,
    docs_decorator=docs_access,
)


# Errors ------------------------------------------------------------------------------------------


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(exc.status, exc.detail, exc.body()["errors"])


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # Includes ninja's 400 for a body that is not JSON and the 401s of ApiTokenAuth.
    failure = getattr(request, "api_parse_failure", None)
    if exc.status_code == 400 and failure is not None:
        return on_api_error(request, failure)
    return error_response(
        exc.status_code, "Malformed JSON." if exc.status_code == 400 else str(exc)
    )


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    if any(e["loc"][0] == "body" and len(e["loc"]) == 2 for e in exc.errors) and not request.body:
        return error_response(400, EMPTY_BODY)
    errors = []
    for error in exc.errors:
        # loc is (source, parameter, field…) for a body, (source, parameter) otherwise. A body
        # error is about item 0 (the one object sent), unless it is about the body as a whole.
        source, *loc = error["loc"]
        if source == "body":
            loc = loc[1:]
        index = 0 if source == "body" and loc else None
        errors += errors_from_pydantic(
            [{**error, "loc": tuple(loc)}], index=index, batch_keys=("activities", "outcomes")
        )
    return error_response(422, "The request is invalid.", [e.model_dump() for e in errors])


@api.exception_handler(DjangoValidationError)
def on_django_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    errors = [error.model_dump() for error in errors_from_django(exc)]
    return error_response(422, "The request is invalid.", errors)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, str(exc) if exc.args else "Not found.")


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return on_api_error(request, too_large())


@api.exception_handler(DatabaseError)
def on_database_error(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    if not isinstance(exc, DATABASE_UNAVAILABLE):
        return on_unexpected(request, exc)
    logger.warning("database unavailable: %s", request.path, extra={"error": str(exc)})
    response = error_response(503, "The database is unavailable right now; retry shortly.")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Logged like Django logs an unhandled error (so error reporting still sees it), but the
    # client gets JSON rather than an HTML page.
    logger.error(
        "Internal Server Error: %s",
        request.path,
        exc_info=exc,
        extra={"status_code": 500, "request": request},
    )
    return error_response(500, "Internal server error.")


def api_edge(view: Callable) -> Callable:
    """Wraps every URL of the API: refuses an oversized body before anything reads it, and turns
    Django's own 404 and 405 answers into the API's JSON errors."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > max_body_bytes():
            return on_api_error(request, too_large())
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return error_response(404, "Not found.")
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            allowed = response.get("Allow", "")
            json_response = error_response(405, f"Method not allowed; use {allowed}.")
            json_response["Allow"] = allowed
            return json_response
        return response

    return wrapped


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return error_response(404, "No such endpoint.")


# Input helpers -----------------------------------------------------------------------------------


def read_json(request: HttpRequest) -> Any:
    body = request.body  # RequestDataTooBig → 413 (see on_too_big)
    if len(body) > max_body_bytes():
        raise too_large()
    if not body.strip():
        raise ApiError(400, EMPTY_BODY)
    return parse_json(body)


def batch_of(payload: Any, key: str, noun: str) -> tuple[list[Any], bool]:
    """The items of a body that is one object or `{key: [...]}`, and whether it was a batch."""
    if not isinstance(payload, dict):
        raise ApiError(
            422,
            f"Send one {noun} as a JSON object, or {{{key!r}: [...]}}.",
            [ErrorItem(index=None, message="Must be a JSON object.")],
        )
    if key not in payload:
        return [payload], False
    items = payload[key]
    unknown = sorted(set(payload) - {key})
    if unknown or not isinstance(items, list):
        errors = [ErrorItem(field=name, message="Unknown field.") for name in unknown]
        if not isinstance(items, list):
            errors.append(ErrorItem(field=key, message="Must be a list."))
        raise ApiError(422, "The request is invalid.", errors)
    if len(items) > MAX_BATCH:
        raise ApiError(
            413, f"A batch holds at most {MAX_BATCH:,} items; this one has {len(items):,}."
        )
    return items, True


def request_body(model: type, batch_model: type) -> dict:
    refs = [{"$ref": f"#/components/schemas/{m.__name__}"} for m in (model, batch_model)]
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"oneOf": refs}}},
        }
    }


def check_crm_id_is_free(payload: LeadIn) -> None:
    # Checked here because the model's conditional unique constraint reports only "constraint
    # violated", without naming the field.
    if payload.external_id and (
        Lead.objects.filter(external_id=payload.external_id).exclude(email=payload.email).exists()
    ):
        raise ApiError(
            422,
            "The request is invalid.",
            [ErrorItem(index=0, field="external_id", message="Another lead has this external_id.")],
        )


# Endpoints ---------------------------------------------------------------------------------------

router = Router()


@router.post(
    "/leads",
    response={200: LeadOut, 201: LeadOut, **ERRORS},
    tags=["leads"],
    summary="Create or update a lead by e-mail",
)
def upsert(request: HttpRequest, payload: LeadIn) -> Status:
    """201 when the lead is new, 200 when it existed. Fields left out or null keep their value;
    the lead is rescored when anything changed. The body is the lead as `GET` returns it."""
    check_crm_id_is_free(payload)
    account = payload.account.fields() if payload.account is not None else None
    try:
        lead, created, _ = upsert_lead(
            email=payload.email, account=account, **payload.lead_fields()
        )
    except IntegrityError:
        # Two requests created the same lead (or account) at once: the other one won, so this
        # one is now an update.
        lead, created, _ = upsert_lead(
            email=payload.email, account=account, **payload.lead_fields()
        )
    # Read back as GET would: the service's instance can hold a stale copy of the account.
    lead = Lead.objects.select_related("account", "score").get(pk=lead.pk)
    return Status(201 if created else 200, LeadOut.of(lead))


@router.get(
    "/leads/{int:lead_id}",
    response={200: LeadOut, **ERRORS},
    tags=["leads"],
    summary="A lead with its score and why",
)
def lead_detail(request: HttpRequest, lead_id: int) -> LeadOut:
    lead = Lead.objects.select_related("account", "score").filter(pk=lead_id).first()
    if lead is None:
        raise Http404("No lead with this id.")
    return LeadOut.of(lead)


@router.get(
    "/leads",
    response={200: LeadOut, **ERRORS},
    tags=["leads"],
    summary="The lead with this e-mail",
)
def lead_by_email(request: HttpRequest, email: str) -> LeadOut:
    if "\x00" in email:
        raise holds_nul("email")
    lead = (
        Lead.objects.select_related("account", "score").filter(email=normalize_email(email)).first()
    )
    if lead is None:
        raise Http404("No lead with this e-mail.")
    return LeadOut.of(lead)


@router.post(
    "/activities",
    response={200: IngestOut, **ERRORS},
    tags=["activities"],
    summary="Record one activity or a batch of up to 1,000",
    openapi_extra=request_body(ActivityIn, ActivityBatchIn),
)
def post_activities(request: HttpRequest) -> IngestOut:
    """Valid activities are stored and their leads rescored before the answer. In a batch each
    invalid item is rejected on its own and listed in `errors` (the answer is still 200); a
    single invalid activity is a 422. A repeat of (source, external_id) — or, without an
    external_id, of lead, kind, time, URL and source — is counted as a duplicate."""
    items, is_batch = batch_of(read_json(request), "activities", "activity")
    valid, errors = validate_items(ActivityIn, items)
    if errors and not is_batch:
        raise ApiError(422, "The activity is invalid.", errors)
    result = ingest_activities([activity.to_new() for _, activity in valid])
    for position in result.unknown_lead_ids:
        errors.append(ErrorItem(index=valid[position][0], field="lead_id", message="No such lead."))
    if errors and not is_batch:
        raise ApiError(422, "The activity is invalid.", errors)
    errors.sort(key=lambda error: error.index)
    # Without an active rule set nothing is scored.
    rescored = bool(result.lead_ids) and RuleSet.objects.active() is not None
    return IngestOut(
        created=result.created,
        duplicates=result.duplicates,
        rejected=len({error.index for error in errors}),
        leads_created=result.leads_created,
        leads_rescored=len(result.lead_ids) if rescored else 0,
        errors=errors,
    )


@router.post(
    "/outcomes",
    response={200: OutcomesOut, **ERRORS},
    tags=["outcomes"],
    summary="Record what became of leads: opportunity, won, lost",
    openapi_extra=request_body(OutcomeIn, OutcomeBatchIn),
)
def post_outcomes(request: HttpRequest) -> OutcomesOut:
    """One outcome or `{"outcomes": [...]}`, idempotent on external_id (without one, on lead,
    type and date). Invalid items are handled as for activities."""
    items, is_batch = batch_of(read_json(request), "outcomes", "outcome")
    valid, errors = validate_items(OutcomeIn, items)
    if errors and not is_batch:
        raise ApiError(422, "The outcome is invalid.", errors)
    result = record_outcomes([outcome.to_new() for _, outcome in valid])
    return OutcomesOut(
        created=result.created,
        duplicates=result.duplicates,
        rejected=len({error.index for error in errors}),
        leads_created=result.leads_created,
        errors=errors,
    )


api.add_router("", router)
