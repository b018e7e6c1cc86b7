"""What the API reads and writes (contract §3), and how its errors are worded.

Input models forbid unknown fields, so a misspelt field is reported instead of silently dropped
(design §6). Times are ISO 8601; one without an offset is in the site's time zone.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

import pydantic
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Schema
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

from feedback.services import NewOutcome
from leads.models import Lead, in_utc, kind_validator, time_problem
from leads.services import NewActivity, aware
from scoring.models import RuleSet
from scoring.selectors import explain_lead

MAX_BATCH = 1000

# Errors ------------------------------------------------------------------------------------------


class ErrorItem(Schema):
    index: int | None = Field(
        None, description="The item's position in the request (0 for a single object)."
    )
    field: str | None = Field(None, description="The field, dotted for nested ones.")
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[ErrorItem] = []


class ApiError(Exception):
    """An error answer of contract §3: a status, a sentence, and the items and fields at fault."""

    def __init__(self, status: int, detail: str, errors: Sequence[ErrorItem] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)

    def body(self) -> dict:
        return {"detail": self.detail, "errors": [e.model_dump() for e in self.errors]}


class FieldError(ValueError):
    """A model-level check whose error belongs to one field (pydantic would report no field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


_MESSAGES = {
    "missing": "This field is required.",
    "extra_forbidden": "Unknown field.",
    "model_type": "Must be a JSON object.",
    "model_attributes_type": "Must be a JSON object.",
    "dict_type": "Must be a JSON object.",
}


def _message(error: dict) -> str:
    if error["type"] in _MESSAGES:
        return _MESSAGES[error["type"]]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ValueError):
        return str(cause)
    text = error["msg"].removeprefix("Value error, ")
    return text if text.endswith((".", "!", "?")) else text + "."


def errors_from_pydantic(
    errors: Iterable[dict], *, index: int | None = 0, batch_keys: Iterable[str] = ()
) -> list[ErrorItem]:
    """pydantic's errors as contract §3's items; `activities.3.occurred_at` → index 3."""
    result = []
    for error in errors:
        loc = list(error["loc"])
        item_index = index
        if len(loc) >= 2 and loc[0] in batch_keys and isinstance(loc[1], int):
            item_index, loc = loc[1], loc[2:]
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            loc = [*loc, cause.field]
        field = ".".join(str(part) for part in loc) or None
        result.append(ErrorItem(index=item_index, field=field, message=_message(error)))
    return result


def errors_from_django(error: DjangoValidationError, *, index: int | None = 0) -> list[ErrorItem]:
    if not hasattr(error, "error_dict"):
        return [ErrorItem(index=index, message=message) for message in error.messages]
    return [
        ErrorItem(index=index, field=None if name == NON_FIELD_ERRORS else name, message=message)
        for name, messages in error.message_dict.items()
        for message in messages
    ]


# Field types -------------------------------------------------------------------------------------


def _parse_time(value: Any) -> Any:
    # Only ISO 8601 text: pydantic would also take a bare number as a Unix time, which is more
    # often a bug at the sender than an intent.
    if isinstance(value, datetime):
        return aware(value)
    if not isinstance(value, str):
        raise ValueError("Enter an ISO 8601 date and time, e.g. 2026-05-01T09:30:00Z.")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO 8601 date and time (e.g. 2026-05-01T09:30:00Z)."
        ) from None
    return aware(parsed)


def _plausible(value: datetime, *, future_ok: bool = False) -> datetime:
    problem = time_problem(value, future_ok=future_ok)
    if problem:
        raise ValueError(problem)
    return in_utc(value)


def _plausible_creation(value: datetime) -> datetime:
    # A CRM's record may be dated a little ahead by its clock; only nonsense years are refused.
    return _plausible(value, future_ok=True)


def _email(value: str) -> str:
    value = value.strip().lower()
    if not _valid_email(value):
        raise ValueError(f"{value!r} is not a valid e-mail address.")
    return value


@functools.lru_cache(maxsize=16_384)
def _valid_email(value: str) -> bool:
    # Remembered: an integration sends the same leads' addresses again and again, and Django's
    # validator takes about 7 µs an address, a third of validating an activity.
    try:
        validate_email(value)
    except DjangoValidationError:
        return False
    return True


def _id_text(value: Any) -> Any:
    # CRMs often number their records; 123 and "123" are the same id.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


# Free-form JSON (a lead's attributes, an activity's properties) is context, not a document store:
# a limit keeps one call from filling the database or the scoring reads.
MAX_FREE_JSON_BYTES = 16 * 1024
MAX_FREE_JSON_DEPTH = 8


def _depth(value: Any) -> int:
    """How deeply `value` nests, without recursion (a hostile value may nest hundreds deep)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            stack.extend(
                (child, depth) for child in (item.values() if isinstance(item, dict) else item)
            )
        deepest = max(deepest, depth)
    return deepest


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    if _depth(value) > MAX_FREE_JSON_DEPTH:
        raise ValueError(f"At most {MAX_FREE_JSON_DEPTH} levels of nesting.")
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > MAX_FREE_JSON_BYTES:
        raise ValueError(f"At most {MAX_FREE_JSON_BYTES:,} bytes of JSON; this is {size:,}.")
    return value


def _kind(value: str) -> str:
    if not kind_validator.regex.search(value):
        raise ValueError(str(kind_validator.message))
    return value


Timestamp = Annotated[datetime, BeforeValidator(_parse_time), AfterValidator(_plausible_creation)]
PastTimestamp = Annotated[datetime, BeforeValidator(_parse_time), AfterValidator(_plausible)]
# Constraints sit inside `… | None`: on the union pydantic would apply them to null as well.
Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]
FreeJson = Annotated[dict[str, Any], AfterValidator(_small_json)]
Text50 = Annotated[str, Field(max_length=50)]
Text100 = Annotated[str, Field(max_length=100)]
Text200 = Annotated[str, Field(max_length=200)]
Text2000 = Annotated[str, Field(max_length=2000)]
LeadExternalId = Annotated[Text100 | None, BeforeValidator(_id_text)]
EventExternalId = Annotated[Text200 | None, BeforeValidator(_id_text)]


class Input(BaseModel):
    """Input: unknown fields are errors; null means "not given"."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# Leads -------------------------------------------------------------------------------------------


DOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def _domain(value: str) -> str | None:
    value = value.lower() or None
    if value is not None and not DOMAIN_RE.match(value):
        raise ValueError("Enter a bare domain such as acme.com (no http:// or path).")
    return value


def _country(value: str) -> str | None:
    value = value.upper() or None
    if value is not None and not re.fullmatch(r"[A-Z]{2}", value):
        raise ValueError("Use the two-letter ISO 3166 country code, for example US or DE.")
    return value


class AccountIn(Input):
    """The lead's company. Fields left out or null keep their value."""

    name: Text200 | None = None
    domain: Annotated[str, Field(max_length=253), AfterValidator(_domain)] | None = Field(
        None, description="A bare domain such as acme.com; leads are matched to it."
    )
    industry: Text100 | None = None
    employee_count: Annotated[StrictInt, Field(ge=0, le=10_000_000)] | None = None
    annual_revenue: Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)] | None = None
    country: Annotated[str, AfterValidator(_country)] | None = Field(
        None, description="ISO 3166 alpha-2, e.g. US."
    )
    technologies: list[Text100] | None = None
    funding_stage: Text50 | None = None

    def fields(self) -> dict:
        return self.model_dump(exclude_none=True)


class LeadIn(Input):
    """A lead to create or update, found by its e-mail. Fields left out or null keep their
    value; the account, when given, is found or created by its domain (else the e-mail's)."""

    email: Email
    first_name: Text100 | None = None
    last_name: Text100 | None = None
    title: Text200 | None = None
    source: Text100 | None = Field(None, description="The channel it came from.")
    external_id: LeadExternalId = Field(
        None, description="The lead's id in the CRM (a number is taken as text)."
    )
    attributes: FreeJson | None = Field(
        None,
        description="Custom attributes for fit rules (attributes.KEY); replaces them. At most "
        f"{MAX_FREE_JSON_BYTES:,} bytes of JSON, {MAX_FREE_JSON_DEPTH} levels deep.",
    )
    created_at: Timestamp | None = None
    account: AccountIn | None = None

    def lead_fields(self) -> dict:
        return self.model_dump(exclude={"email", "account"}, exclude_none=True)


# Activities and outcomes -------------------------------------------------------------------------


class ActivityIn(Input):
    """Something a lead did. Name the lead by `email` (created when unknown) or `lead_id`."""

    email: Email | None = None
    lead_id: Annotated[StrictInt, Field(gt=0)] | None = None
    kind: Annotated[
        str,
        Field(
            description="A slug, e.g. page_view.",
            json_schema_extra={"pattern": kind_validator.regex.pattern},
        ),
        AfterValidator(_kind),
    ]
    occurred_at: PastTimestamp
    url: Text2000 | None = None
    properties: FreeJson | None = Field(
        None,
        description=f"Context, e.g. a campaign. At most {MAX_FREE_JSON_BYTES:,} bytes of JSON, "
        f"{MAX_FREE_JSON_DEPTH} levels deep.",
    )
    source: Text100 | None = None
    external_id: EventExternalId = Field(
        None,
        description="The sender's id for it (a number is taken as text). With source it "
        "identifies the event: a repeat is a duplicate.",
    )

    @model_validator(mode="after")
    def _one_lead(self) -> ActivityIn:
        if self.email is None and self.lead_id is None:
            raise FieldError("email", "Give the lead's email or its lead_id.")
        if self.email is not None and self.lead_id is not None:
            raise FieldError("lead_id", "Give the lead's email or its lead_id, not both.")
        return self

    def to_new(self) -> NewActivity:
        return NewActivity(
            kind=self.kind,
            occurred_at=self.occurred_at,
            email=self.email or "",
            lead_id=self.lead_id,
            url=self.url or "",
            properties=self.properties or {},
            source=self.source or "",
            external_id=self.external_id or None,
        )


class ActivityBatchIn(Input):
    activities: list[ActivityIn] = Field(max_length=MAX_BATCH)


class OutcomeIn(Input):
    """What the CRM says became of a lead; idempotent on external_id."""

    email: Email
    type: Literal["opportunity", "won", "lost"]
    occurred_at: PastTimestamp
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] | None = None
    external_id: EventExternalId = Field(
        None, description="The CRM's id for it (a number is taken as text)."
    )

    def to_new(self) -> NewOutcome:
        return NewOutcome(
            email=self.email,
            type=self.type,
            occurred_at=self.occurred_at,
            amount=self.amount,
            external_id=self.external_id or None,
        )


class OutcomeBatchIn(Input):
    outcomes: list[OutcomeIn] = Field(max_length=MAX_BATCH)


InputT = TypeVar("InputT", bound=Input)


def validate_items(
    model: type[InputT], items: Sequence[Any]
) -> tuple[list[tuple[int, InputT]], list[ErrorItem]]:
    """Each item checked on its own: the valid ones with their positions, and every error."""
    valid: list[tuple[int, InputT]] = []
    errors: list[ErrorItem] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(ErrorItem(index=index, message="Must be a JSON object."))
            continue
        try:
            valid.append((index, model.model_validate(item)))
        except pydantic.ValidationError as error:
            errors.extend(errors_from_pydantic(error.errors(), index=index))
    return valid, errors


class IngestOut(Schema):
    created: int
    duplicates: int = Field(
        description="Repeats of stored items (or of earlier ones in the batch)."
    )
    rejected: int
    leads_created: int
    leads_rescored: int
    errors: list[ErrorItem]


class OutcomesOut(Schema):
    created: int
    duplicates: int
    rejected: int
    leads_created: int
    errors: list[ErrorItem]


# The lead as read back ---------------------------------------------------------------------------


class AccountOut(Schema):
    id: int
    name: str
    domain: str | None
    industry: str
    employee_count: int | None
    annual_revenue: float | None
    country: str
    technologies: list[str]
    funding_stage: str


class ActivityPoints(Schema):
    id: int | None
    occurred_at: datetime
    points: float = Field(description="Before decay.")
    value: float = Field(description="After decay, as of the score's as_of.")


class ContributionOut(Schema):
    rule: str
    kind: Literal["fit", "behavior"]
    points: float = Field(description="The rule's points before decay.")
    value: float = Field(description="What it adds to the score.")
    activities: list[ActivityPoints]


class RuleSetRef(Schema):
    name: str
    version: int


class ScoreOut(Schema):
    fit: float
    interest: float
    total: float
    fit_tier: str
    interest_tier: int
    cell: str
    action: str | None = Field(description="The cell's action in the rule set's matrix.")
    disqualified: bool
    as_of: datetime | None = Field(description="When the score was computed (null: never).")
    ruleset: RuleSetRef | None
    contributions: list[ContributionOut] = Field(
        description="Every rule that counts; their values add up to the total (to rounding)."
    )


class LeadOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    title: str
    source: str
    external_id: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    account: AccountOut | None
    stage: str
    score: ScoreOut

    @classmethod
    def of(cls, lead: Lead) -> LeadOut:
        account = lead.account
        return cls(
            id=lead.pk,
            email=lead.email,
            first_name=lead.first_name,
            last_name=lead.last_name,
            title=lead.title,
            source=lead.source,
            external_id=lead.external_id,
            attributes=lead.attributes or {},
            created_at=lead.created_at,
            updated_at=lead.updated_at,
            account=None
            if account is None
            else AccountOut(
                id=account.pk,
                name=account.name,
                domain=account.domain,
                industry=account.industry,
                employee_count=account.employee_count,
                annual_revenue=account.annual_revenue,
                country=account.country,
                technologies=account.technologies or [],
                funding_stage=account.funding_stage,
            ),
            stage=lead.stage,
            score=score_of(lead),
        )


def _round(value: float) -> float:
    return round(value, 2) + 0.0  # + 0.0 turns -0.0 into 0.0


def score_of(lead: Lead) -> ScoreOut:
    """The stored score, explained as of the instant it was computed so the parts add up."""
    score = lead.score
    active = RuleSet.objects.active()
    if score.ruleset_version is None:
        ruleset = None
    elif active is not None and active.version == score.ruleset_version:
        ruleset = active
    else:
        # Between a publish and the end of its rescore the lead still has the old rule set's
        # score: name that one (its rules are no longer explained).
        ruleset = RuleSet.objects.filter(version=score.ruleset_version).first()
    contributions = []
    explained = None
    if score.scored_at is not None and ruleset is not None and ruleset == active:
        explained = explain_lead(lead, as_of=score.scored_at)
    if explained is not None:
        contributions = [
            ContributionOut(
                rule=c.rule,
                kind=c.kind,
                points=_round(c.points),
                value=_round(c.value),
                activities=[
                    ActivityPoints(
                        id=a.activity_id,
                        occurred_at=a.occurred_at,
                        points=_round(a.points),
                        value=_round(a.value),
                    )
                    for a in c.activities
                ],
            )
            for c in explained.contributions
        ]
    return ScoreOut(
        fit=_round(score.fit_score),
        interest=_round(score.interest_score),
        total=_round(score.total_score),
        fit_tier=score.fit_tier,
        interest_tier=score.interest_tier,
        cell=score.cell,
        action=ruleset.matrix.get(score.cell) if ruleset is not None else None,
        disqualified=score.disqualified,
        as_of=score.scored_at,
        ruleset=RuleSetRef(name=ruleset.name, version=ruleset.version) if ruleset else None,
        contributions=contributions,
    )
