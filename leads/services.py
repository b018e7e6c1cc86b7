"""Writes of the leads app: leads, accounts and activities, each validated before it is stored."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from scoring.models import ScoreChange
from scoring.services import rescore_leads

from .free_mail import is_free_mail
from .models import Account, Activity, Lead

LEAD_FIELDS = ("first_name", "last_name", "title", "source", "external_id", "attributes")
ACCOUNT_FIELDS = (
    "name",
    "industry",
    "employee_count",
    "annual_revenue",
    "country",
    "technologies",
    "funding_stage",
)


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def aware(value: datetime) -> datetime:
    """A time without an offset is in the site's time zone (contract §2)."""
    if timezone.is_naive(value):
        return timezone.make_aware(value, timezone.get_current_timezone())
    return value


def _assign(instance, values: dict) -> bool:
    """Set the values that differ; True when anything changed."""
    changed = False
    for key, value in values.items():
        if getattr(instance, key) != value:
            setattr(instance, key, value)
            changed = True
    return changed


def find_or_create_account(
    *, email: str, current: Account | None = None, domain: str | None = None, **fields: Any
) -> tuple[Account | None, bool]:
    """The lead's account and whether it was written: found by company domain, else by the
    e-mail's domain unless free-mail.

    A lead on free-mail whose company is known only by name or details keeps them on an account
    of its own without a domain, so fit rules still see its size and industry.
    """
    unknown = set(fields) - set(ACCOUNT_FIELDS)
    if unknown:
        raise ValidationError({f"account.{name}": "Unknown field." for name in sorted(unknown)})
    values = {k: v for k, v in fields.items() if v not in (None, "")}
    domain = (domain or "").strip().lower()
    if not domain:
        email_domain = email.rpartition("@")[2]
        if email_domain and not is_free_mail(email_domain):
            domain = email_domain
    if domain:
        account = Account.objects.filter(domain=domain).first() or Account(
            domain=domain, name=domain
        )
    elif values:
        account = current if current is not None and not current.domain else Account()
        values.setdefault("name", account.name or email)
    else:
        return (current if current is not None and not current.domain else None), False
    changed = _assign(account, values) or account.pk is None
    if changed:
        account.full_clean()
        account.save()
    return account, changed


class LeadUpsert(NamedTuple):
    lead: Lead
    created: bool
    changed: bool  # the lead or its account was written


@transaction.atomic
def upsert_lead(
    *, email: str, account: dict | None = None, rescore: bool = True, **fields: Any
) -> LeadUpsert:
    """Create or update the lead with this e-mail. Raises ValidationError naming the field.

    Fields left out (or None) keep their value; an unchanged lead is not written at all, so
    importing the same file twice changes nothing.
    """
    email = normalize_email(email)
    unknown = set(fields) - set(LEAD_FIELDS) - {"created_at"}
    if unknown:
        raise ValidationError({name: "Unknown field." for name in sorted(unknown)})
    lead = Lead.objects.filter(email=email).select_related("account").first()
    created = lead is None
    if created:
        lead = Lead(email=email)
    values = {k: aware(v) if k == "created_at" else v for k, v in fields.items() if v is not None}
    changed = _assign(lead, values)
    account_changed = False
    if account is not None or created:
        found, account_changed = find_or_create_account(
            email=email, current=lead.account, **(account or {})
        )
        changed = _assign(lead, {"account": found}) or changed
    if created or changed:
        lead.full_clean()
        lead.save()
    if rescore and (created or changed or account_changed):
        # Fit rules read the account: when it changed, all of its leads may score differently.
        others = lead.account.leads.values_list("pk", flat=True) if account_changed else []
        rescore_leads([lead.pk, *others], reason=ScoreChange.Reason.EDIT)
        lead.refresh_from_db()
    return LeadUpsert(lead, created, created or changed or account_changed)


@transaction.atomic
def record_activity(
    *,
    lead: Lead,
    kind: str,
    occurred_at: datetime,
    url: str = "",
    properties: dict | None = None,
    source: str = "",
    external_id: str | None = None,
) -> Activity:
    """Store one activity and rescore its lead at once. Raises ValidationError when invalid,
    including a repeat of (source, external_id): a retried delivery is never a second event."""
    activity = Activity(
        lead=lead,
        kind=kind,
        occurred_at=aware(occurred_at),
        url=url or "",
        properties=properties or {},
        source=source or "",
        external_id=external_id or None,
    )
    activity.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            activity.save()
    except IntegrityError as error:
        raise ValidationError(
            {"external_id": f"An activity from {source!r} with id {external_id!r} exists already."}
        ) from error
    rescore_leads([lead.pk], reason=ScoreChange.Reason.ACTIVITY)
    return activity


# Activities in sets (API batches, CSV imports) --------------------------------------------------


@dataclass
class NewActivity:
    """A validated activity waiting to be stored; `email` or `lead_id` names its lead."""

    kind: str
    occurred_at: datetime
    email: str = ""
    lead_id: int | None = None
    url: str = ""
    properties: dict = field(default_factory=dict)
    source: str = ""
    external_id: str | None = None

    def natural_key(self, lead_id: int) -> tuple:
        return (lead_id, self.kind, self.occurred_at, self.url, self.source)


@dataclass
class IngestResult:
    created: int = 0
    duplicates: int = 0
    leads_created: int = 0
    unknown_lead_ids: list[int] = field(default_factory=list)  # positions in the input
    lead_ids: set[int] = field(default_factory=set)


def leads_by_email(emails: Iterable[str]) -> tuple[dict[str, int], int]:
    """Ids of the leads with these e-mails, creating a bare lead for each unknown one."""
    wanted = {normalize_email(e) for e in emails if e}
    found = dict(Lead.objects.filter(email__any=wanted).values_list("email", "id"))
    missing = wanted - found.keys()
    if missing:
        new = [Lead(email=email) for email in sorted(missing)]
        for lead in new:
            lead.normalize()
        # A concurrent request may create the same lead: the conflict is skipped, then read.
        Lead.objects.bulk_create(new, ignore_conflicts=True)
        found.update(Lead.objects.filter(email__any=missing).values_list("email", "id"))
    return found, len(missing)


class ActivityRow(NamedTuple):
    """An activity ready to store: validated and normalized (an aware time, external_id None
    when absent), as ingest_activities makes them."""

    lead_id: int
    kind: str
    occurred_at: datetime
    url: str
    properties: dict
    source: str
    external_id: str | None


def insert_activities(rows: list[ActivityRow]) -> None:
    """Store activities, in their order.

    By COPY on PostgreSQL: for a batch of 1,000, bulk_create built 1,000 model instances and an
    INSERT of 9,000 placeholders for psycopg to bind and the server to parse, about half of
    storing the batch.
    """
    if connection.vendor != "postgresql":
        Activity.objects.bulk_create(
            Activity(**dict(zip(ActivityRow._fields, row, strict=True))) for row in rows
        )
        return
    now = timezone.now()
    columns = ", ".join((*ActivityRow._fields, "created_at"))
    copy_sql = f"COPY {Activity._meta.db_table} ({columns}) FROM STDIN"
    # psycopg's own errors become Django's, as for any query: a lost connection is a 503.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.copy(copy_sql) as copy,
    ):
        for lead_id, kind, occurred_at, url, properties, source, external_id in rows:
            copy.write_row(
                (lead_id, kind, occurred_at, url, Jsonb(properties), source, external_id, now)
            )


def _stored_event_ids(keys: Iterable[tuple[str, str | None]]) -> set[tuple[str, str]]:
    """The (source, external_id) pairs among these that are stored already."""
    keys = {(source, external_id) for source, external_id in keys if external_id}
    return (
        set(
            Activity.objects.filter(
                external_id__any={external_id for _, external_id in keys},
                source__any={source for source, _ in keys},
            ).values_list("source", "external_id")
        )
        & keys
    )


def _insert_new_events(rows: list[ActivityRow]) -> list[ActivityRow]:
    """Store the rows; returns those stored. An event id another request stored after this one
    checked (two senders delivering the same event at once) is a duplicate, not an error: the
    insert waits for the other request's commit, then this one leaves out the events the other
    stored and tries again with the rest (a third sender may take a second turn)."""
    attempts = 3
    for attempt in range(attempts):
        try:
            with transaction.atomic():  # a savepoint: a refused insert leaves the rest intact
                insert_activities(rows)
            break
        except IntegrityError:
            stored = _stored_event_ids((row.source, row.external_id) for row in rows)
            if attempt == attempts - 1 or not stored:
                raise  # a third turn, or not a repeated event id
            rows = [row for row in rows if (row.source, row.external_id) not in stored]
    return rows


@transaction.atomic
def ingest_activities(items: Sequence[NewActivity], *, rescore: bool = True) -> IngestResult:
    """Store activities in sets: leads resolved in one query, repeats skipped, one rescore.

    A repeat is the same (source, external_id), or — without an external id — the same lead,
    kind, time, URL and source: so a retried batch or a re-imported file adds nothing.
    """
    result = IngestResult()
    lead_of_email, result.leads_created = leads_by_email(i.email for i in items if i.email)
    given_ids = {i.lead_id for i in items if i.lead_id is not None}
    known_ids = set(Lead.objects.filter(pk__any=given_ids).values_list("pk", flat=True))

    resolved: list[tuple[NewActivity, int]] = []
    for position, item in enumerate(items):
        lead_id = item.lead_id if item.lead_id is not None else lead_of_email.get(item.email)
        if lead_id is None or (item.lead_id is not None and lead_id not in known_ids):
            result.unknown_lead_ids.append(position)
        else:
            resolved.append((item, lead_id))

    seen_external = _stored_event_ids((i.source, i.external_id) for i, _ in resolved)
    keyless = [(i, lead_id) for i, lead_id in resolved if not i.external_id]
    seen_natural = set()
    if keyless:
        seen_natural = set(
            Activity.objects.filter(
                lead_id__any={lead_id for _, lead_id in keyless},
                occurred_at__any={i.occurred_at for i, _ in keyless},
                external_id__isnull=True,
            ).values_list("lead_id", "kind", "occurred_at", "url", "source")
        )

    new = []
    for item, lead_id in resolved:
        if item.external_id:
            key, seen = (item.source, item.external_id), seen_external
        else:
            key, seen = item.natural_key(lead_id), seen_natural
        if key in seen:
            continue
        seen.add(key)
        new.append(
            ActivityRow(
                lead_id,
                item.kind,
                item.occurred_at,
                item.url,
                item.properties,
                item.source,
                item.external_id,
            )
        )
    # In event-id order: two batches sharing events then wait for each other's ids in one
    # order, never in a cycle (a deadlock).
    new.sort(key=lambda row: (row.external_id is None, row.external_id or "", row.source))
    new = _insert_new_events(new)
    result.duplicates = len(resolved) - len(new)
    result.lead_ids = {row.lead_id for row in new}
    result.created = len(new)
    if rescore and result.lead_ids:
        rescore_leads(result.lead_ids, reason=ScoreChange.Reason.ACTIVITY)
    return result
